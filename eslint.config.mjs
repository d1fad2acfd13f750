import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import svelte from 'eslint-plugin-svelte'
import globals from 'globals'
import ts from 'typescript-eslint'

const noElectron = {
  name: 'electron',
  message:
    'Only the desktop glue (main/index.ts, main/window.ts, main/ipc/register.ts, main/tray/tray.ts, preload/) may import electron.'
}
const electronPatterns = { group: ['electron', 'electron/*'], message: noElectron.message }

export default ts.config(
  { ignores: ['out/', 'dist/', 'node_modules/', 'test-artifacts/', 'bench/results/'] },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  prettier,
  ...svelte.configs.prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }]
    }
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { globals: { ...globals.browser }, parserOptions: { parser: ts.parser } }
  },
  // Layering: the engine and everything under common/ run in plain Node and in tests.
  {
    files: ['common/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            electronPatterns,
            {
              group: ['node:*', '../main/*', '../renderer/*', '../preload/*'],
              message: 'common/ is pure: it imports only other common/ modules and zod.'
            }
          ]
        }
      ]
    }
  },
  {
    // Only the Electron glue (entry, window, IPC, tray) may touch electron.
    files: ['main/**/*.ts'],
    ignores: ['main/index.ts', 'main/window.ts', 'main/ipc/register.ts', 'main/tray/tray.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [noElectron], patterns: [electronPatterns] }] }
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.svelte'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            electronPatterns,
            {
              group: ['node:*', '**/main/**', '**/preload/**'],
              message: 'The renderer may import only common/ and its own modules.'
            }
          ]
        }
      ]
    }
  }
)
