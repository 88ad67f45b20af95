// ESLint flat config: type-aware typescript-eslint rules (STYLE.md "Tooling").
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { layersPlugin } from './tools/eslint/layers.js';

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'testdata/**', '*.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      complexity: ['error', 12],
    },
  },
  {
    // ARCHITECTURE.md's dependency direction; a wrong-way import fails `make test` (test/lint/layers.test.ts).
    files: ['pbx/**/*.ts', 'operator/**/*.ts'],
    plugins: { layers: layersPlugin(import.meta.dirname) },
    rules: { 'layers/direction': 'error' },
  },
  {
    files: ['tools/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // plain JavaScript (loaded by eslint.config.js itself): no types to declare
    files: ['tools/**/*.js'],
    rules: { '@typescript-eslint/explicit-module-boundary-types': 'off' },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'e2e/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/explicit-module-boundary-types': 'off',
      complexity: 'off',
    },
  },
);
