/** Types of tools/eslint/layers.js (plain JavaScript: eslint.config.js loads it before any build). */
import type { ESLint } from 'eslint';

/** pbx/<layer> -> the other pbx/ folders it may import. */
export declare const PBX_LAYERS: Readonly<Record<string, readonly string[]>>;
/** What operator/ may import from pbx/. */
export declare const OPERATOR_MAY_IMPORT: readonly string[];
/** What operator/ may import from pbx/ as types only. */
export declare const OPERATOR_MAY_IMPORT_TYPES: readonly string[];
/** Why importing `source` from `file` breaks the direction, or undefined when it is allowed. */
export declare function layerViolation(
  repoRoot: string,
  file: string,
  source: string,
  typeOnly?: boolean,
): string | undefined;
/** The ESLint plugin with the rule `layers/direction`. */
export declare function layersPlugin(repoRoot: string): ESLint.Plugin;
