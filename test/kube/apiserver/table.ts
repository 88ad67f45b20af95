// `meta.k8s.io/v1 Table` responses (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`) with a
// NAME column, the type's printer columns, and AGE; what `kubectl get` prints.
import { jsonPath } from './jsonpath.js';
import type { KubeObject, PrinterColumn, ResourceType } from './types.js';

/** Whether the Accept header asks for a Table. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => /as=Table/.test(part) && /g=meta\.k8s\.io/.test(part));
}

/** Kubernetes' HumanDuration (apimachinery util/duration). */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  return d < 365 * 2 ? `${d}d` : `${Math.floor(d / 365)}y`;
}

const ageColumn: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

function columnsOf(t: ResourceType): PrinterColumn[] {
  if (t.custom) return t.columns.length > 0 ? t.columns : [ageColumn];
  return [...t.columns, ageColumn];
}

function cell(obj: KubeObject, c: PrinterColumn, now: Date): unknown {
  const values = jsonPath(obj, c.jsonPath);
  const v = values[0];
  if (v === undefined || v === null) return c.type === 'date' ? '<unknown>' : null;
  if (c.type === 'date') return humanDuration(now.getTime() - Date.parse(typeof v === 'string' ? v : ''));
  if (c.type === 'integer' || c.type === 'number') return typeof v === 'number' ? v : Number(v);
  if (c.type === 'boolean') return Boolean(v);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function rowObject(obj: KubeObject, include: string): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

/** A Table of objects of one type; `includeObject` is None, Metadata (default) or Object. */
export function toTable(
  t: ResourceType,
  objects: KubeObject[],
  now: Date,
  includeObject = 'Metadata',
  resourceVersion?: string,
): unknown {
  const cols = columnsOf(t);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: resourceVersion === undefined ? {} : { resourceVersion },
    columnDefinitions: [
      {
        name: 'Name',
        type: 'string',
        format: 'name',
        description: 'Name must be unique within a namespace.',
        priority: 0,
      },
      ...cols.map((c) => ({
        name: c.name,
        type: c.type,
        format: c.format ?? '',
        description: c.description ?? '',
        priority: c.priority ?? 0,
      })),
    ],
    rows: objects.map((obj) => {
      const object = rowObject(obj, includeObject);
      return {
        cells: [obj.metadata.name ?? '', ...cols.map((c) => cell(obj, c, now))],
        ...(object === undefined ? {} : { object }),
      };
    }),
  };
}
