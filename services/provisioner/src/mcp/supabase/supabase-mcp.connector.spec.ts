import { PermanentFailure } from '../../drivers/driver.js';
import { supabaseMcpCommand } from './supabase-mcp.connector.js';

const settings = {
  command: 'npx',
  packageSpec: '@supabase/mcp-server-supabase@^0.13.0',
  features: ['database', 'development', 'functions', 'debugging'],
};

describe('supabaseMcpCommand', () => {
  it('scopes the official server to the project, read-only for inspection, with the features', () => {
    expect(supabaseMcpCommand(settings, 'abcdefghijklmnopqrst', 'read-only')).toEqual({
      command: 'npx',
      args: [
        '-y',
        '@supabase/mcp-server-supabase@^0.13.0',
        '--project-ref',
        'abcdefghijklmnopqrst',
        '--features',
        'database,development,functions,debugging',
        '--read-only',
      ],
    });
    expect(supabaseMcpCommand(settings, 'abcdefghijklmnopqrst', 'read-write').args).not.toContain('--read-only');
  });

  it('points the server at another Management API only when one is configured', () => {
    expect(
      supabaseMcpCommand({ ...settings, apiUrl: 'https://api.supabase.com' }, 'abcdefghijklmnopqrst', 'read-only').args,
    ).not.toContain('--api-url');
    expect(
      supabaseMcpCommand(
        { ...settings, apiUrl: 'http://127.0.0.1:4010/' },
        'abcdefghijklmnopqrst',
        'read-only',
      ).args.slice(-2),
    ).toEqual(['--api-url', 'http://127.0.0.1:4010']);
  });

  it('puts no access token on the command line', () => {
    const { args } = supabaseMcpCommand(settings, 'abcdefghijklmnopqrst', 'read-write');
    expect(args.join(' ')).not.toMatch(/token|sbp_/i);
  });

  it.each(['vibe_env_0f8e6c1a3b2d4c5e9f7081a2b3c4d5e6', '--access-token=x', 'ABCDEFGHIJKLMNOPQRST', 'short'])(
    'refuses %p as a project ref before it reaches a command line',
    (ref) => {
      expect(() => supabaseMcpCommand(settings, ref, 'read-only')).toThrow(PermanentFailure);
    },
  );

  it('never turns the docs feature group on', () => {
    expect(() =>
      supabaseMcpCommand({ ...settings, features: ['database', 'docs'] }, 'abcdefghijklmnopqrst', 'read-only'),
    ).toThrow(/docs/);
  });
});
