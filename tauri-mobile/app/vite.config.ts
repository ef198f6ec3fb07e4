import { defineConfig } from 'vitest/config'
import solid from 'vite-plugin-solid'

// Tauri expects a fixed port in dev and the built files in ../dist (see tauri.conf.json).
export default defineConfig({
  plugins: [solid()],
  clearScreen: false,
  server: { port: 1420, strictPort: true, host: '127.0.0.1' },
  envPrefix: ['VITE_', 'TAURI_ENV_'],
  build: {
    outDir: 'dist',
    target: 'es2021',
    sourcemap: true
  },
  resolve: {
    // One copy of the Tauri API for the app and the plugin's guest-js.
    dedupe: ['@tauri-apps/api', 'solid-js']
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    server: { deps: { inline: [/solid-js/, /@solidjs/] } }
  }
})
