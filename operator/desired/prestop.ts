// The preStop hook: whoever deletes a pbx pod (the operator, a node drain, kubectl), the pod first
// drains its calls through the local management API, within terminationGracePeriodSeconds.
import type { V1LifecycleHandler } from '@kubernetes/client-node';
import { HTTP_PORT } from '../api/index.js';
import { PATHS } from './names.js';

/** Seconds between two drain-status polls of the preStop hook. */
export const PRESTOP_POLL_SECONDS = 2;

/**
 * A `node -e` script (the image has no curl or shell tools): POST /api/v1/drain with the admin token,
 * then poll GET /api/v1/drain until the state is `drained` (a pbx drained over the API stays up until
 * the SIGTERM that follows this hook). It exits 0 when the pbx stops answering, answers an error (a 401 would never clear) or on any failure, so
 * a broken hook never blocks termination: the pbx also drains on SIGTERM, and the grace period bounds
 * everything.
 */
export function preStopScript(): string {
  return [
    `const fs=process.getBuiltinModule('node:fs');`,
    `const url='http://'+(process.env.POD_IP||'127.0.0.1')+':${HTTP_PORT}/api/v1/drain';`,
    `const headers={authorization:'Bearer '+fs.readFileSync('${PATHS.adminTokenFile}','utf8').trim(),'content-type':'application/json'};`,
    `const sleep=(ms)=>new Promise((r)=>setTimeout(r,ms));`,
    `(async()=>{`,
    `if(!(await fetch(url,{method:'POST',headers,body:'{}'})).ok)return;`,
    `for(;;){const r=await fetch(url,{headers});if(!r.ok||(await r.json()).state==='drained')return;await sleep(${PRESTOP_POLL_SECONDS * 1000});}`,
    `})().then(()=>process.exit(0),()=>process.exit(0));`,
  ].join('');
}

/** The preStop handler of the pbx container. */
export function preStopHandler(): V1LifecycleHandler {
  return { exec: { command: ['node', '-e', preStopScript()] } };
}
