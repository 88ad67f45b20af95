// The dependency direction of ARCHITECTURE.md as an ESLint rule: a file under pbx/<layer>/ may import
// only the pbx/ folders its layer lists, and operator/ only the pbx contract folders. Imports inside a
// layer, of packages, and from the files at pbx/ root (app.ts, main.ts: the wiring) are free.
import { dirname, relative, resolve, sep } from 'node:path';

/** pbx/<layer> -> the other pbx/ folders it may import (ARCHITECTURE.md "Layout"). */
export const PBX_LAYERS = {
  core: [],
  sip: ['core'],
  transport: ['core'],
  transaction: ['core', 'sip'],
  dialog: ['core', 'sip', 'transaction'],
  media: ['core'],
  // sip is pure (no I/O): the registrar's address-of-record parsing uses its URI grammar
  registry: ['core', 'sip'],
  events: ['core'],
  protect: ['core'],
  config: ['core'],
  stack: ['core', 'sip', 'transport', 'transaction'],
  b2bua: ['core', 'sip', 'transaction', 'dialog', 'media', 'registry', 'events', 'protect'],
  http: ['core', 'config'],
  cluster: ['core', 'registry', 'config'],
};

/** What operator/ may import from pbx/ (shared contracts: the config schema, API payloads). */
export const OPERATOR_MAY_IMPORT = ['config', 'http'];

/** What operator/ may import from pbx/ as types only (erased at build: no pbx code runs in the operator). */
export const OPERATOR_MAY_IMPORT_TYPES = ['core'];

/** The top folder of `path` under `root` (`pbx/sip/x.ts` -> `sip`), or undefined for a file at its root. */
function topFolder(root, path) {
  const rel = relative(root, path);
  if (rel.startsWith('..')) return undefined;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : undefined;
}

/** The pbx/ folder `target` lies in (`(root)` for a file at pbx/ root), or undefined outside pbx/. */
function pbxFolderOf(pbx, target) {
  if (relative(pbx, target).startsWith('..')) return undefined;
  return topFolder(pbx, target) ?? '(root)';
}

/** Why operator/ may not import pbx/`into`, or undefined. */
function operatorViolation(into, typeOnly) {
  if (OPERATOR_MAY_IMPORT.includes(into)) return undefined;
  if (typeOnly && OPERATOR_MAY_IMPORT_TYPES.includes(into)) return undefined;
  return `operator/ imports only pbx contract folders (${OPERATOR_MAY_IMPORT.join(', ')}; types of ${OPERATOR_MAY_IMPORT_TYPES.join(', ')}), not pbx/${into}`;
}

/**
 * Why importing `source` from `file` breaks the direction, or undefined when it is allowed. `typeOnly`:
 * the import is `import type` (erased at build).
 */
export function layerViolation(repoRoot, file, source, typeOnly = false) {
  if (!source.startsWith('.')) return undefined;
  const pbx = resolve(repoRoot, 'pbx');
  const into = pbxFolderOf(pbx, resolve(dirname(file), source));
  if (into === undefined) return undefined;
  if (!relative(resolve(repoRoot, 'operator'), file).startsWith('..'))
    return operatorViolation(into, typeOnly);
  const from = relative(pbx, file).startsWith('..') ? undefined : topFolder(pbx, file);
  if (from === undefined || from === into) return undefined;
  const allowed = PBX_LAYERS[from];
  if (allowed === undefined) return `pbx/${from} is not in the layer table of tools/eslint/layers.js`;
  if (allowed.includes(into)) return undefined;
  return `pbx/${from} may import ${allowed.length === 0 ? 'no other layer' : allowed.join(', ')}; not pbx/${into} (ARCHITECTURE.md: dependencies point one way)`;
}

/** Whether an import or export declaration brings in types only. */
function isTypeOnly(node) {
  if (node.importKind === 'type' || node.exportKind === 'type') return true;
  const specifiers = node.specifiers ?? [];
  return (
    specifiers.length > 0 && specifiers.every((sp) => sp.importKind === 'type' || sp.exportKind === 'type')
  );
}

/** An ESLint plugin with the rule `layers/direction`; `repoRoot` is the folder holding pbx/ and operator/. */
export function layersPlugin(repoRoot) {
  const check = (context, node) => {
    const source = node.source?.value;
    if (typeof source !== 'string') return;
    const why = layerViolation(repoRoot, context.filename, source, isTypeOnly(node));
    if (why !== undefined) context.report({ node: node.source, message: why });
  };
  return {
    rules: {
      direction: {
        meta: {
          type: 'problem',
          docs: { description: 'imports follow the layers of ARCHITECTURE.md' },
          schema: [],
        },
        create: (context) => ({
          ImportDeclaration: (node) => check(context, node),
          ExportNamedDeclaration: (node) => check(context, node),
          ExportAllDeclaration: (node) => check(context, node),
          ImportExpression: (node) => check(context, node),
        }),
      },
    },
  };
}
