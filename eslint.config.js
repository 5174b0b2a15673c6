// @ts-check
// ESLint with typescript-eslint's type-aware rules (floating promises, misused promises, unsafe
// `any` flows) for correctness; Prettier owns the layout (`prettier --check` in `npm run lint`).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', '.tmp/', 'test/artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // Prettier wraps code at 120; this catches what it cannot wrap (comments, long strings).
      'max-len': ['error', { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true, ignorePattern: '^import ' }],
    },
  },
  // vitest's asymmetric matchers (expect.objectContaining, expect.any) are typed `any` by design.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-unsafe-assignment': 'off' } },
  // Browser scripts and this file are outside the TypeScript project: plain rules only.
  { files: ['public/**/*.js', 'eslint.config.js'], ...tseslint.configs.disableTypeChecked },
  // TypeScript checks names itself; ESLint's no-undef knows nothing of types.
  { files: ['**/*.ts'], rules: { 'no-undef': 'off' } },
  {
    files: ['bin/**/*.js', 'src/**/*.js', 'test/**/*.js', 'eslint.config.js'],
    languageOptions: { globals: globals.node },
  },
  { files: ['public/**/*.js'], languageOptions: { globals: globals.browser } },
  prettier,
);
