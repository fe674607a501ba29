import { DRIFT_SEVERITY_ORDER, type AdvisorLint, type DriftSeverity } from '@vibe/contracts';

/** The more severe of the two. */
export function maxSeverity(a: DriftSeverity, b: DriftSeverity): DriftSeverity {
  return DRIFT_SEVERITY_ORDER.indexOf(a) >= DRIFT_SEVERITY_ORDER.indexOf(b) ? a : b;
}

/** Most severe first. */
export function bySeverity(a: DriftSeverity, b: DriftSeverity): number {
  return DRIFT_SEVERITY_ORDER.indexOf(b) - DRIFT_SEVERITY_ORDER.indexOf(a);
}

/**
 * What a security lint means in drift terms. `critical`: data is reachable by someone the spec keeps out
 * (no RLS, a view that bypasses it or exposes auth.users, a write policy that is always true); `high`: a
 * protection is missing (a security definer function anyone may call); `medium`: hardening the plan had.
 */
const LINT_SEVERITY: Record<string, DriftSeverity> = {
  rls_disabled_in_public: 'critical',
  policy_exists_rls_disabled: 'critical',
  security_definer_view: 'critical',
  auth_users_exposed: 'critical',
  rls_policy_always_true: 'critical',
  anon_security_definer_function_executable: 'high',
  authenticated_security_definer_function_executable: 'high',
  function_search_path_mutable: 'medium',
  extension_in_public: 'low',
};

export function lintSeverity(lint: Pick<AdvisorLint, 'name' | 'level'>): DriftSeverity {
  return LINT_SEVERITY[lint.name] ?? (lint.level === 'ERROR' ? 'high' : lint.level === 'WARN' ? 'medium' : 'low');
}
