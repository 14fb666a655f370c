// Validates every object of rendered Kubernetes manifests (multi-document YAML files named on the
// command line) against the Kubernetes API schemas compiled into the npm package kubernetes-models
// (and @kubernetes-models/prometheus-operator for ServiceMonitor). Offline: the schemas are in
// node_modules, installed by deploy/install-deps.sh. Prints one line per object; exits 1 when any
// object is invalid, of an unknown kind, or a file holds no object at all.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// apiVersion "group/version" (or "v1") -> the module path of its models.
function modulePath(apiVersion, kind) {
  if (apiVersion === "monitoring.coreos.com/v1")
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;
  const group = apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`;
  return `kubernetes-models/${group.startsWith("core/") ? "v1" : group}/${kind}`;
}

let failures = 0;
for (const file of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(file, "utf8")).filter((d) => d.contents !== null);
  if (docs.length === 0) { console.log(`FAIL ${file}: no object`); failures++; }
  for (const doc of docs) {
    if (doc.errors.length) { console.log(`FAIL ${file}: YAML: ${doc.errors[0].message}`); failures++; continue; }
    const obj = doc.toJS();
    const what = `${file}: ${obj.kind} ${obj.metadata?.name ?? "(no name)"}`;
    let Model;
    try {
      Model = (await import(modulePath(obj.apiVersion ?? "", obj.kind ?? "")))[obj.kind];
    } catch {
      Model = undefined;
    }
    if (!Model) { console.log(`FAIL ${what}: no schema for ${obj.apiVersion} ${obj.kind}`); failures++; continue; }
    try {
      new Model(obj).validate();
      console.log(`ok   ${what}`);
    } catch (e) {
      console.log(`FAIL ${what}: ${e.message}`);
      failures++;
    }
  }
}
process.exit(failures ? 1 : 0);
