import { ConnectionBudget } from './connection-budget.js';

interface Fake {
  key: string;
  n: number;
}

function budget(max: number, idleMs = 60_000) {
  let opened = 0;
  const closed: Fake[] = [];
  const connections = new ConnectionBudget<Fake>({
    max,
    idleMs,
    open: async (key) => ({ key, n: ++opened }),
    close: async (client) => {
      closed.push(client);
    },
  });
  return { connections, closed, opened: () => opened };
}

describe('ConnectionBudget', () => {
  it('reuses an idle connection of the same database', async () => {
    const { connections, opened } = budget(2);
    const first = await connections.acquire('a');
    connections.release('a', first, true);
    expect(await connections.acquire('a')).toBe(first);
    expect(opened()).toBe(1);
    await connections.close();
  });

  it('never holds more than max: the least recently used idle connection makes room', async () => {
    const { connections, closed } = budget(2);
    const a = await connections.acquire('a');
    const b = await connections.acquire('b');
    connections.release('a', a, true);
    connections.release('b', b, true);
    const c = await connections.acquire('c');
    expect(closed).toEqual([a]);
    expect(connections.size).toBe(2);
    connections.release('c', c, true);
    await connections.close();
  });

  it('makes a caller wait while every connection is in use, and hands over on release', async () => {
    const { connections } = budget(1);
    const a = await connections.acquire('a');
    let got: Fake | undefined;
    const waiting = connections.acquire('b').then((client) => (got = client));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(got).toBeUndefined();
    connections.release('a', a, true);
    await waiting;
    expect(got?.key).toBe('b');
    expect(connections.size).toBe(1);
    await connections.close();
  });

  it('closes a connection given back as not reusable, and the idle ones of a forgotten database', async () => {
    const { connections, closed } = budget(3);
    const a = await connections.acquire('a');
    const b = await connections.acquire('b');
    connections.release('a', a, false);
    connections.release('b', b, true);
    connections.forget('b');
    expect(closed).toEqual([a, b]);
    expect(connections.size).toBe(0);
    await connections.close();
  });

  it('closes connections idle for longer than idleMs', async () => {
    const { connections, closed } = budget(2, 100);
    const a = await connections.acquire('a');
    connections.release('a', a, true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(closed).toEqual([a]);
    await connections.close();
  });
});
