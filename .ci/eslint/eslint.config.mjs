// ESLint for the page scripts (static/js), run by `make lint` and .ci/run: the recommended rules, for ES
// modules loaded natively by the browser (no bundler). They share code by import and export only, never
// through window: the one global they read is the vendored Plotly, and only static/js/ecg/plotly.js reads
// it (tests/platform/test_js_modules.py checks the same).
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    rules: {
      "no-unused-vars": ["error", { args: "none" }],
      eqeqeq: ["error", "smart"],
      // Plotly comes through ecg/plotly.js, which reads globalThis.Plotly; a bare or window.Plotly elsewhere
      // would skip it.
      "no-restricted-globals": ["error", { name: "Plotly", message: "import it from static/js/ecg/plotly.js" }],
      "no-restricted-properties": [
        "error",
        { object: "window", property: "Plotly", message: "import it from static/js/ecg/plotly.js" },
      ],
    },
  },
];
