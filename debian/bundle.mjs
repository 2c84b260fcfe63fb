// Builds the tree installed as /usr/lib/f2bp2p: the compiled app plus the production part of
// node_modules, whatever package.json lists, trimmed to what runs on this machine.
//
//   node debian/bundle.mjs OUT_DIR        (from the source tree, after `tsc`)
//
// - Production packages are read from package-lock.json (entries not marked "dev"), so no npm is
//   needed at build time (Debian's nodejs does not include it) and nothing is fetched.
// - Native addons: each package holding `.node` files is loaded by the build's own node; the
//   addon files it actually mapped are kept and every other `.node` file (other OSes, CPUs, libcs,
//   Node ABIs) is deleted, with cmake-ts manifests (zeromq's build/manifest.json) cut to match.
// - Sources, docs, tests, type declarations, source maps and dotfiles are left out.
// Prints one line per native addon kept: "ADDON <path> <napi|node-abi-NNN>", read by debian/rules
// for the package's nodejs-abi dependency.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const out = process.argv[2];
if (!out) {
  console.error("usage: node debian/bundle.mjs OUT_DIR");
  process.exit(2);
}
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(path.join(out, "dist"), { recursive: true });
// Only what the app needs at run time from package.json: no scripts, no dev dependencies.
const { name, version, description, license, type, dependencies } = pkg;
fs.writeFileSync(
  path.join(out, "package.json"),
  `${JSON.stringify({ name, version, description, license, type, dependencies }, null, 2)}\n`,
);
fs.cpSync("bin", path.join(out, "bin"), { recursive: true });
fs.cpSync("dist/src", path.join(out, "dist/src"), {
  recursive: true,
  // The man page generator runs at build time only.
  filter: (src) => !src.endsWith(".map") && path.basename(path.dirname(src)) !== "man" && !src.endsWith(`${path.sep}man`),
});

// Folders left out at a package's top level ("src" only where the package does not run from it),
// and build leftovers at any depth.
const DROP_TOP_DIRS = new Set([
  "test", "tests", "__tests__", "example", "examples", "docs", "doc", "deps", "script", "scripts",
  "benchmark", "benchmarks", "src", "tools",
]);
const DROP_ANY_DIRS = new Set(["obj.target"]);
const DROP_FILES = /(\.d\.[cm]?ts|\.ts|\.map|\.md|\.markdown|\.gyp|\.gypi|\.cc|\.cpp|\.c|\.h|\.hpp|\.mk|\.o|\.a|\.tsbuildinfo|\.txt|^LICEN[CS]E.*|^Makefile|^CMakeLists\.txt|^vcpkg\.json|^tsconfig.*\.json|^binding\.gyp)$/i;

for (const [where, entry] of Object.entries(lock.packages ?? {})) {
  if (where === "" || entry.dev || !where.startsWith("node_modules/")) continue;
  if (!fs.existsSync(where)) {
    if (entry.optional) continue; // an optional package for another OS or CPU
    throw new Error(`${where} is in package-lock.json but not installed: run 'npm install' first`);
  }
  const runsFromSrc = mainOf(where).replace(/^\.\//, "").startsWith("src/");
  copyTrimmed(where, path.join(out, where), (name) => DROP_TOP_DIRS.has(name) && !(name === "src" && runsFromSrc));
  // Packages' own command-line tools (package.json "bin") are never run by the app.
  for (const bin of binsOf(where)) {
    const file = path.join(out, where, bin);
    fs.rmSync(file, { force: true });
    fs.rmSync(file.replace(/\.js$/, ".mjs"), { force: true });
  }
}

function binsOf(dir) {
  const { bin } = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  return typeof bin === "string" ? [bin] : Object.values(bin ?? {});
}

function copyTrimmed(from, to, dropDir = () => false) {
  fs.mkdirSync(to, { recursive: true });
  for (const dirent of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, dirent.name);
    const dst = path.join(to, dirent.name);
    if (dirent.name.startsWith(".")) continue;
    if (dirent.isDirectory()) {
      // Nested packages are copied by their own lock entry.
      if (dirent.name === "node_modules" || DROP_ANY_DIRS.has(dirent.name) || dropDir(dirent.name)) continue;
      copyTrimmed(src, dst);
    } else if (dirent.isFile() && (dirent.name === "package.json" || !DROP_FILES.test(dirent.name))) {
      fs.copyFileSync(src, dst);
      // Only native addons keep an exec bit: scripts in node_modules are run by node, not exec'd.
      fs.chmodSync(dst, dirent.name.endsWith(".node") ? 0o755 : 0o644);
    }
  }
}

// A package with native sources must have been built by `npm install`: npm may skip install
// scripts (allowScripts), and the package would then fail at run time instead of here.
for (const [where, entry] of Object.entries(lock.packages ?? {})) {
  if (where === "" || entry.dev || !fs.existsSync(path.join(where, "binding.gyp"))) continue;
  if (!walk(where).some((f) => f.endsWith(".node"))) {
    throw new Error(`${where} has native sources but no built addon: run 'npm rebuild ${where.replace(/.*node_modules\//, "")}'`);
  }
}

// Native addons: load each package that has them and keep only the files its loader mapped. A
// package that loads its addon lazily (better-sqlite3 does, at the first `new Database()`) maps
// none at import: then each of its addon files is loaded directly, and those that load are kept.
const nodeFiles = walk(path.join(out, "node_modules")).filter((f) => f.endsWith(".node"));
const packagesWithAddons = new Set(nodeFiles.map((f) => packageRootOf(f)));
for (const root of packagesWithAddons) {
  const candidates = nodeFiles.filter((f) => packageRootOf(f) === root).map((f) => path.resolve(f));
  const probe = `
    import fs from "node:fs";
    const mapped = () => new Set(fs.readFileSync("/proc/self/maps", "utf8").split("\\n")
      .map((l) => l.slice(l.indexOf("/"))).filter((f) => f.endsWith(".node")));
    await import(${JSON.stringify(path.resolve(root, mainOf(root)))});
    let files = mapped();
    if (files.size === 0) {
      for (const file of ${JSON.stringify(candidates)}) {
        try { process.dlopen({ exports: {} }, file); } catch { /* another OS, CPU, libc or ABI */ }
      }
      files = mapped();
    }
    process.stdout.write(JSON.stringify([...files]));`;
  const loaded = new Set(
    JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", probe], { encoding: "utf8" })),
  );
  if (loaded.size === 0) throw new Error(`${root}: none of its native addons loads in this node`);
  for (const file of candidates) {
    if (loaded.has(file)) {
      console.log(`ADDON ${path.relative(path.resolve(out), file)} ${abiOf(file)}`);
    } else {
      fs.rmSync(file);
    }
  }
  pruneEmptyDirs(root);
  const manifest = path.join(root, "build", "manifest.json");
  if (fs.existsSync(manifest)) {
    const entries = Object.entries(JSON.parse(fs.readFileSync(manifest, "utf8")));
    const kept = entries.filter(([, file]) => fs.existsSync(path.join(root, "build", file)));
    fs.writeFileSync(manifest, JSON.stringify(Object.fromEntries(kept)));
  }
}

/** N-API addons load in any Node version; others export node_register_module_vNNN for one ABI. */
function abiOf(file) {
  const symbols = execFileSync("objdump", ["-T", file], { encoding: "utf8" });
  const abi = /node_register_module_v(\d+)/.exec(symbols);
  return abi ? `node-abi-${abi[1]}` : "napi";
}

function packageRootOf(file) {
  let dir = path.dirname(file);
  while (!fs.existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
  return dir;
}

function mainOf(root) {
  const meta = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  const exp = meta.exports?.["."] ?? meta.exports;
  const viaExports = typeof exp === "string" ? exp : (exp?.import?.default ?? exp?.import ?? exp?.default ?? exp?.require);
  return typeof viaExports === "string" ? viaExports : (meta.main ?? "index.js");
}

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? walk(p) : [p];
  });
}

function pruneEmptyDirs(dir) {
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    if (d.isDirectory()) pruneEmptyDirs(path.join(dir, d.name));
  }
  if (fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
}
