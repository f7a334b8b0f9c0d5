// Stylesheets imported by the page's script: esbuild bundles them into app.css.
declare module '*.css';
