import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'

export default defineConfig({
  main: {
    build: {
      // zod is bundled: loaded from node_modules it is 95 ES modules, and resolving, loading and linking
      // them made headless Junction's idle RSS 9 MiB larger than this tree-shaken copy (BENCHMARKS.md,
      // peers). Bundling the other dependencies as well gained nothing measurable.
      externalizeDeps: { exclude: ['zod'] },
      rollupOptions: {
        // V8 keeps every loaded module's source text; one non-Latin-1 character (a "—" in a comment)
        // makes a whole chunk a two-byte string. Escaped and without JSDoc, the main chunks' sources
        // take 0.5 MiB instead of 1.2 (idle RSS about 1 MiB less).
        output: { charset: 'ascii', comments: false },
        // The system-proxy watchdog runs as its own process (main/sysproxy/watchdog.ts).
        input: {
          index: resolve('main/index.ts'),
          watchdog: resolve('main/sysproxy/watchdog-main.ts'),
          serve: resolve('main/serve.ts'),
          // Large imports are read on a worker thread (main/transfer/read-in-worker.ts).
          'import-worker': resolve('main/transfer/import-worker.ts')
        }
      }
    }
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
