import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The built page is served by the laptop's web front door and by the Tauri window, from
// whatever path they choose, so every asset path is relative.
// For `npm run dev`, CG_DEV_SERVER=http://127.0.0.1:PORT forwards /ws to a running
// `commonground serve --web`, so the screens can be tried against the real laptop.
const devServer = process.env.CG_DEV_SERVER;

export default defineConfig({
  base: './',
  plugins: [svelte()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false },
  server: devServer ? { proxy: { '/ws': { target: devServer, ws: true } } } : {},
});
