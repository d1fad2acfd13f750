import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'

export default defineConfig({
  main: {
    build: { rollupOptions: { input: { index: resolve('main/index.ts') } } }
  },
  preload: {
    build: {
      // Sandboxed preloads cannot be ES modules.
      rollupOptions: {
        input: { index: resolve('preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' }
      }
    }
  },
  renderer: {
    root: 'renderer',
    build: { rollupOptions: { input: { index: resolve('renderer/index.html') } } },
    plugins: [svelte({ configFile: resolve('svelte.config.js') })]
  }
})
