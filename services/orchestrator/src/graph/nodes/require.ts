import type { EnvironmentInfo, Plan } from '@vibe/contracts';
import type { BuildStateValue } from '../state.js';

export function requirePlan(state: BuildStateValue): Plan {
  if (!state.plan) throw new Error('no plan: generate_plan did not run');
  return state.plan;
}

export function requireEnvironment(state: BuildStateValue): EnvironmentInfo {
  if (!state.environment) throw new Error('no environment: provision_environment did not run');
  return state.environment;
}
