// Reads a schema file (argv[2]) and JSON lines of records on stdin; prints "1" or "0" per line:
// whether ajv (draft 2020-12, strict, Unicode regular expressions) finds the record valid.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";

const schemas = process.argv.slice(2).map((p) => JSON.parse(readFileSync(p, "utf8")));
const ajv = new Ajv2020({ strict: true, allErrors: false, unicodeRegExp: true });
const validate = schemas.map((s) => ajv.compile(s));
const lines = readFileSync(0, "utf8").split("\n").filter((l) => l.length > 0);
const out = [];
for (const line of lines) {
  const { version, record } = JSON.parse(line);
  out.push(validate[version - 1](record) ? "1" : "0");
}
process.stdout.write(out.join("\n") + "\n");
