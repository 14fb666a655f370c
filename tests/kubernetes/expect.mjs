// What popgate's manifests promise beyond the schemas (which accept unknown or misspelt fields):
// read from the rendered base, so a misspelt key fails here. Exits 1 naming each broken promise.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const objects = parseAllDocuments(readFileSync(process.argv[2], "utf8")).map((d) => d.toJS()).filter(Boolean);
const find = (kind) => objects.find((o) => o.kind === kind);
const broken = [];
const expect = (ok, what) => { if (!ok) broken.push(what); };

const deploy = find("Deployment");
const pod = deploy?.spec?.template?.spec ?? {};
const c = pod.containers?.[0] ?? {};
// One process per ledger (SQLite in state_dir): one replica, never two at once.
expect(deploy?.spec?.replicas === 1 && deploy?.spec?.strategy?.type === "Recreate",
  "Deployment: 1 replica, Recreate");
expect(pod.securityContext?.runAsNonRoot === true && pod.securityContext?.runAsUser === 10001,
  "pod: runAsNonRoot, runAsUser 10001");
expect(c.securityContext?.readOnlyRootFilesystem === true, "container: readOnlyRootFilesystem");
expect(c.securityContext?.allowPrivilegeEscalation === false, "container: no privilege escalation");
expect(JSON.stringify(c.securityContext?.capabilities?.drop) === '["ALL"]', "container: drops all capabilities");
expect(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.cpu &&
  c.resources?.limits?.memory, "container: cpu and memory requests and limits");
for (const probe of ["readinessProbe", "livenessProbe"])
  expect(c[probe]?.httpGet?.path === "/healthz" && c[probe]?.httpGet?.port === "admin", `${probe} on /healthz`);
const mounts = Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.mountPath, m]));
const volumes = Object.fromEntries((pod.volumes ?? []).map((v) => [v.name, v]));
const cm = find("ConfigMap");
expect(cm && volumes[mounts["/etc/popgate"]?.name]?.configMap?.name === cm.metadata.name,
  "config: the generated ConfigMap at /etc/popgate");
const secrets = volumes[mounts["/run/secrets/popgate"]?.name]?.secret;
expect(secrets?.secretName === "popgate-secrets" && secrets?.defaultMode === 0o400,
  "secrets: Secret popgate-secrets at /run/secrets/popgate, mode 0400 (popgate refuses readable ones)");
const claim = volumes[mounts["/var/lib/popgate"]?.name]?.persistentVolumeClaim?.claimName;
expect(claim && find("PersistentVolumeClaim")?.metadata?.name === claim,
  "state: the PersistentVolumeClaim at /var/lib/popgate (the ledger must outlive the pod)");
const config = cm?.data?.["config.yaml"] ?? "";
expect(/^state_dir: \/var\/lib\/popgate\/state\b/m.test(config),
  "config: state_dir a subdirectory of the volume (its root is group-writable with fsGroup)");
expect(/password_file: \/run\/secrets\/popgate\//.test(config), "config: passwords from the Secret");
expect(!/^database:/m.test(config), "config: no database: section (popgate refuses it for now)");
expect(!/^\s*password:/m.test(config), "config: no password written in the ConfigMap");
expect(find("Service")?.spec?.ports?.[0]?.port === 8025, "Service: admin port 8025");
expect(find("PodDisruptionBudget")?.spec?.maxUnavailable === 1, "PodDisruptionBudget: maxUnavailable 1");
const np = find("NetworkPolicy");
const egressPorts = (np?.spec?.egress ?? []).flatMap((r) => (r.ports ?? []).map((p) => p.port)).sort((a, b) => a - b);
expect(JSON.stringify(egressPorts) === "[53,53,110,143,993,995]",
  `NetworkPolicy: egress only to mail ports and DNS (got ${egressPorts})`);
expect(np?.spec?.policyTypes?.includes("Egress"), "NetworkPolicy: egress restricted");

for (const b of broken) console.log(`FAIL ${b}`);
if (!broken.length) console.log(`ok   ${process.argv[2]}: every promise of the manifests holds`);
process.exit(broken.length ? 1 : 0);
