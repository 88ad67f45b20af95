// Kubernetes Events (core/v1) for the notable steps of a reconcile: drain started or cancelled, pod
// replaced, StatefulSet scaled. Recording is best effort: a failed Event never fails a reconcile.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeClient } from './kube.js';

/** The object an Event is about. */
export interface EventSubject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid?: string | undefined;
}

/** Records Events about an object. */
export interface EventRecorder {
  /** `type` Normal or Warning; `reason` a CamelCase word (DrainStarted, PodReplaced, Scaled, ...). */
  record(subject: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** Component name in `source` and `reportingComponent`. */
export const EVENT_COMPONENT = 'sippbx-operator';

/** An EventRecorder creating core/v1 Events; `now` is injectable for tests. */
export function createEventRecorder(
  kube: KubeClient,
  opts: { logger?: Logger; now?: () => Date; instance?: string } = {},
): EventRecorder {
  const now = opts.now ?? (() => new Date());
  return {
    async record(subject, type, reason, message) {
      const at = now().toISOString();
      const body = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: {
          name: `${subject.name}.${randomBytes(8).toString('hex')}`,
          namespace: subject.namespace,
        },
        involvedObject: {
          apiVersion: subject.apiVersion,
          kind: subject.kind,
          name: subject.name,
          namespace: subject.namespace,
          ...(subject.uid === undefined ? {} : { uid: subject.uid }),
        },
        type,
        reason,
        message,
        count: 1,
        firstTimestamp: at,
        lastTimestamp: at,
        source: { component: EVENT_COMPONENT },
        reportingComponent: EVENT_COMPONENT,
        reportingInstance: opts.instance ?? EVENT_COMPONENT,
      };
      try {
        await kube.createEvent(subject.namespace, body);
      } catch (err) {
        opts.logger?.warn({ err, reason }, 'could not record an Event');
      }
    },
  };
}
