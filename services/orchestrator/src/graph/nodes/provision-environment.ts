import type { StepBody } from '../step.js';

/** Spec §6.1 `provision_environment`: a branch or project for this session, recorded without secrets. */
export const provisionEnvironment: StepBody = async (state, deps) => {
  const { environment } = await deps.provisioner.call(state.sessionId, 'environment', {
    tool: 'create_environment',
    mode: state.options.environmentMode,
  });
  await deps.sessions.saveEnvironment(state.sessionId, environment);
  await deps.events.emit(
    state.sessionId,
    'environment_created',
    'environment',
    `Created ${environment.driver} ${environment.mode} ${environment.ref}`,
    { environment },
  );
  return { environment };
};
