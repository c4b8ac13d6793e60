// ESLint (flat config): recommended JS and TypeScript rules. Run by `npm test` and `npm run lint`.
import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/protocols/*/pb/*.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-control-regex': 'off',
      eqeqeq: ['error', 'smart'],
      'prefer-const': 'error',
      'no-console': 'error'
    }
  },
  { files: ['bench/**', 'test/**'], rules: { 'no-console': 'off' } },
  // The web app runs in the browser.
  { files: ['src/web/**'], languageOptions: { globals: { ...globals.browser } } }
)
