// Prints the config.yaml of the ConfigMap in a rendered manifest file (for `popgate check`).
// Exits 1 when the file holds no ConfigMap with a config.yaml.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const objects = parseAllDocuments(readFileSync(process.argv[2], "utf8")).map((d) => d.toJS()).filter(Boolean);
const config = objects.find((o) => o.kind === "ConfigMap")?.data?.["config.yaml"];
if (!config) { console.error(`${process.argv[2]}: no ConfigMap with a config.yaml`); process.exit(1); }
process.stdout.write(config);
