// Lint rules for the whole tree (`npm run lint`, run by .ci/run). The code is heavily async: a promise
// nobody awaits or handles hides failures (a lost commit, an unhandled rejection that ends the worker),
// so the two promise rules are errors. Type-aware rules use the TypeScript project service, which finds
// tsconfig.json and test/tsconfig.json by itself.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/data/**', 'bench/results/**', 'scratch/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['vitest.config.mts'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // `_name` marks a value left unused on purpose (a destructured field dropped, a callback's slot).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // Names, keys and log text are checked for control characters on purpose.
      'no-control-regex': 'off',
      // A variable a closure reads before its one assignment (a handle created after the callback) stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Lazy requires keep the Azure SDKs off the start-up path of commands on local tables, and the
    // local orchestration engine reaches durable-functions' replay internals, which its exports map hides.
    files: ['shared/storage/lake.ts', 'shared/storage/location.ts', 'shared/orchestration/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Scripts run by Node as ES modules (scripts/*.mjs: workflow lint, smoke test).
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },
  {
    // The command's launcher and the lock-file script are plain CommonJS run by Node.
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
