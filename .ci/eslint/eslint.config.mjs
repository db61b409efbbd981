// ESLint for the page scripts (static/js), run by `make lint` and .ci/run: the recommended rules, for
// classic scripts (no bundler, no modules) that share their packages as window globals.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: "script",
      globals: { ...globals.browser, Plotly: "readonly" },
    },
    rules: { "no-unused-vars": ["error", { args: "none" }], eqeqeq: ["error", "smart"] },
  },
  {
    // The statement search exports itself to CommonJS where it is loaded there (a script of a lab).
    files: ["**/ecg/statements.js"],
    languageOptions: { globals: { module: "readonly" } },
  },
];
