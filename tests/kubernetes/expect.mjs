// What popgate's manifests promise beyond the schemas (which accept unknown or misspelt fields):
// read from rendered manifests, so a misspelt key fails here. Usage:
//   node expect.mjs single FILE...     one process on SQLite (the base and overlays built on it)
//   node expect.mjs replicas FILE...   replicas sharing a PostgreSQL ledger (overlays/replicas-postgres)
// Exits 1 naming each broken promise.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const [profile, ...files] = process.argv.slice(2);
if (!["single", "replicas"].includes(profile) || !files.length) {
  console.log("usage: node expect.mjs single|replicas FILE...");
  process.exit(2);
}

// The promises of one rendered file; returns the broken ones.
function check(file) {
  const objects = parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS()).filter(Boolean);
  const find = (kind) => objects.find((o) => o.kind === kind);
  const broken = [];
  const expect = (ok, what) => { if (!ok) broken.push(what); };

  const deploy = find("Deployment");
  const pod = deploy?.spec?.template?.spec ?? {};
  const c = pod.containers?.[0] ?? {};
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
  const config = cm?.data?.["config.yaml"] ?? "";
  expect(/^state_dir: \/var\/lib\/popgate\/state\b/m.test(config),
    "config: state_dir a subdirectory of the volume (its root is group-writable with fsGroup)");
  expect(/password_file: \/run\/secrets\/popgate\//.test(config), "config: passwords from the Secret");
  expect(!/^\s*password:/m.test(config), "config: no password written in the ConfigMap");
  expect(find("Service")?.spec?.ports?.[0]?.port === 8025, "Service: admin port 8025");
  const np = find("NetworkPolicy");
  const egressPorts = (np?.spec?.egress ?? []).flatMap((r) => (r.ports ?? []).map((p) => p.port)).sort((a, b) => a - b);
  expect(np?.spec?.policyTypes?.includes("Egress"), "NetworkPolicy: egress restricted");
  const pdb = find("PodDisruptionBudget")?.spec ?? {};
  const state = volumes[mounts["/var/lib/popgate"]?.name];

  if (profile === "single") {
    // One process per ledger (SQLite in state_dir): one replica, never two at once.
    expect(deploy?.spec?.replicas === 1 && deploy?.spec?.strategy?.type === "Recreate",
      "Deployment: 1 replica, Recreate");
    const claim = state?.persistentVolumeClaim?.claimName;
    expect(claim && find("PersistentVolumeClaim")?.metadata?.name === claim,
      "state: the PersistentVolumeClaim at /var/lib/popgate (the ledger must outlive the pod)");
    expect(!/^database:/m.test(config), "config: no database: section (the ledger is SQLite in state_dir)");
    expect(pdb.maxUnavailable === 1, "PodDisruptionBudget: maxUnavailable 1");
    expect(JSON.stringify(egressPorts) === "[53,53,110,143,993,995]",
      `NetworkPolicy: egress only to mail ports and DNS (got ${egressPorts})`);
  } else {
    // Replicas share the accounts through leases in PostgreSQL; state_dir is per pod.
    expect(deploy?.spec?.replicas === 3, "Deployment: 3 replicas");
    expect(deploy?.spec?.strategy?.type === "RollingUpdate", "Deployment: RollingUpdate (replicas may overlap)");
    expect(!find("PersistentVolumeClaim"), "no PersistentVolumeClaim (the ledger is in PostgreSQL)");
    expect(state?.emptyDir && !state.persistentVolumeClaim, "state: an emptyDir at /var/lib/popgate");
    expect(/^database:\n(?:[ #].*\n)*?  url: postgres(?:ql)?:\/\/[^:@\s]+@[^\s]+\/\w+/m.test(config),
      "config: database.url, a PostgreSQL URL with no password in it");
    const pgPassword = /^database:\n(?:[ #].*\n)*?  password_file: (\S+)/m.exec(config)?.[1] ?? "";
    const pgDir = pgPassword.slice(0, pgPassword.lastIndexOf("/"));
    const pgSecret = volumes[mounts[pgDir]?.name]?.secret;
    expect(pgPassword && pgSecret?.secretName && pgSecret?.defaultMode === 0o400 &&
      (pgSecret.items ?? [{ path: pgPassword.slice(pgDir.length + 1) }])
        .some((i) => i.path === pgPassword.slice(pgDir.length + 1)),
      `config: database.password_file (${pgPassword}) from a mounted Secret, mode 0400`);
    expect(pdb.maxUnavailable === 1 || pdb.minAvailable === 2,
      "PodDisruptionBudget: one pod of three at a time (maxUnavailable 1 or minAvailable 2)");
    expect(JSON.stringify(egressPorts) === "[53,53,110,143,993,995,5432]",
      `NetworkPolicy: egress only to mail ports, DNS and PostgreSQL (got ${egressPorts})`);
    const dbRule = (np?.spec?.egress ?? []).find((r) => (r.ports ?? []).some((p) => p.port === 5432));
    expect(dbRule?.to?.length, "NetworkPolicy: PostgreSQL's port only towards the database");
  }
  return broken;
}

let failures = 0;
for (const file of files) {
  const broken = check(file);
  for (const b of broken) console.log(`FAIL ${file}: ${b}`);
  if (!broken.length) console.log(`ok   ${file}: every promise of the manifests (${profile}) holds`);
  failures += broken.length;
}
process.exit(failures ? 1 : 0);
