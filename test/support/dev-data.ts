/**
 * Input for the local host's end-to-end test and benchmark: generated point-of-sale files in the
 * example's columns, with what the POS pipeline must make of them computed here in plain TypeScript
 * (never with the SQL engine), and a quote-aware CSV record counter for the real CSV fixtures.
 */

/** One generated sale, as written to the CSV. */
export interface GeneratedSale {
  transaction_id: string;
  store_id: string;
  sku: string;
  quantity: number;
  /** Cents, to keep sums exact. */
  cents: number;
  currency: string;
  /** `YYYY-MM-DD HH:MM:SS` */
  event_time: string;
}

/** One generated delivery. */
export interface GeneratedDelivery {
  delivery_id: string;
  store_id: string;
  sku: string;
  quantity: number;
  delivered_at: string;
}

const STORES = ['S01', 'S02', 'S03', 'S04'];
const SKUS = ['SKU-RED-M', 'SKU-BLU-L', 'SKU-GRN-S', 'SKU-YLW-XL', 'SKU-BLK-M'];
const CURRENCIES = ['USD', 'EUR', 'KRW'];

const pick = <T>(random: () => number, items: readonly T[]) => items[Math.floor(random() * items.length)];
const two = (n: number) => String(n).padStart(2, '0');

/**
 * A sales file: unique transaction ids; every 13th sale has quantity 0 (quarantined by
 * `valid_quantity`), every 17th is in GBP (dropped by `known_currency`).
 *
 * @param file file number (part of every id)
 * @param count sales in the file
 * @param random the generator
 * @returns the CSV text and its sales
 */
export function salesFile(file: number, count: number, random: () => number): { csv: string; sales: GeneratedSale[] } {
  const sales: GeneratedSale[] = [];
  for (let i = 0; i < count; i++) {
    const day = 1 + Math.floor(random() * 3);
    sales.push({
      transaction_id: `G${file}-${i}`,
      store_id: pick(random, STORES),
      sku: pick(random, SKUS),
      quantity: i % 13 === 5 ? 0 : 1 + Math.floor(random() * 5),
      cents: 100 + Math.floor(random() * 9900),
      currency: i % 17 === 3 ? 'GBP' : pick(random, CURRENCIES),
      event_time: `2026-03-${two(day)} ${two(Math.floor(random() * 24))}:${two(Math.floor(random() * 60))}:${two(Math.floor(random() * 60))}`,
    });
  }
  const lines = sales.map(
    (s) => `${s.transaction_id},${s.store_id},${s.sku},${s.quantity},${(s.cents / 100).toFixed(2)},${s.currency},${s.event_time},,4111111111111111`,
  );
  return { csv: ['transaction_id,store_id,sku,quantity,unit_price,currency,event_time,status,card_number', ...lines].join('\n') + '\n', sales };
}

/**
 * A deliveries file; every 11th delivery has quantity 0 (quarantined by `delivered_units`).
 *
 * @param file file number
 * @param count deliveries
 * @param random the generator
 * @returns the CSV text and its deliveries
 */
export function deliveriesFile(file: number, count: number, random: () => number): { csv: string; deliveries: GeneratedDelivery[] } {
  const deliveries = Array.from({ length: count }, (_, i): GeneratedDelivery => ({
    delivery_id: `GD${file}-${i}`,
    store_id: pick(random, STORES),
    sku: pick(random, SKUS),
    quantity: i % 11 === 4 ? 0 : 5 + Math.floor(random() * 30),
    delivered_at: `2026-03-01 0${Math.floor(random() * 9)}:00:00`,
  }));
  const lines = deliveries.map((d) => `${d.delivery_id},${d.store_id},${d.sku},${d.quantity},${d.delivered_at}`);
  return { csv: ['delivery_id,store_id,sku,quantity,delivered_at', ...lines].join('\n') + '\n', deliveries };
}

/** The sales `silver.sales` keeps: a known currency and a quantity (no returns are generated). */
export function keptSales(sales: readonly GeneratedSale[]): GeneratedSale[] {
  return sales.filter((s) => s.currency !== 'GBP' && s.quantity !== 0);
}

/**
 * Daily revenue (cents) and units per `store|day|currency` over kept sales, as `gold.daily_store_sales` means it.
 *
 * @param sales kept sales
 * @returns store|day|currency → totals
 */
export function expectedDailySales(sales: readonly GeneratedSale[]): Map<string, { cents: number; units: number }> {
  const out = new Map<string, { cents: number; units: number }>();
  for (const s of sales) {
    const key = `${s.store_id}|${s.event_time.slice(0, 10)}|${s.currency}`;
    const entry = out.get(key) ?? { cents: 0, units: 0 };
    entry.cents += s.quantity * s.cents;
    entry.units += s.quantity;
    out.set(key, entry);
  }
  return out;
}

/**
 * Units in stock per `store|sku`: delivered (quantity > 0) minus sold, as `gold.store_stock` means it.
 *
 * @param deliveries all deliveries
 * @param sales kept sales
 * @returns store|sku → units
 */
export function expectedStock(deliveries: readonly GeneratedDelivery[], sales: readonly GeneratedSale[]): Map<string, number> {
  const out = new Map<string, number>();
  const add = (store: string, sku: string, n: number) => out.set(`${store}|${sku}`, (out.get(`${store}|${sku}`) ?? 0) + n);
  for (const d of deliveries) if (d.quantity > 0) add(d.store_id, d.sku, d.quantity);
  for (const s of sales) add(s.store_id, s.sku, -s.quantity);
  return out;
}

/**
 * Records of a CSV text (RFC 4180: line breaks inside quotes do not end a record), header excluded.
 *
 * @param text the file
 * @returns the data records, each a list of fields (blank lines skipped)
 */
export function csvRecords(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      if (record.length > 1 || record[0] !== '') records.push(record);
      record = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || record.length) records.push([...record, field]);
  return records.slice(1);
}
