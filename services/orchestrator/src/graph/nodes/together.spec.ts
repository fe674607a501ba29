import { sendingInOrder, together } from './together.js';

const later = <T>(value: T, ms: number) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));
const failLater = (message: string, ms: number) =>
  new Promise<never>((_, reject) => setTimeout(() => reject(new Error(message)), ms));

describe('together', () => {
  it('returns the values in the order of the calls, plain values included', async () => {
    await expect(together([later('a', 20), 'b', later(3, 1), null])).resolves.toEqual(['a', 'b', 3, null]);
  });

  it('throws the first failure only once every call has ended', async () => {
    const ended: string[] = [];
    const slow = later('slow', 30).then((value) => {
      ended.push(value);
      return value;
    });
    await expect(together([failLater('the matrix failed', 1), slow])).rejects.toThrow('the matrix failed');
    expect(ended).toEqual(['slow']);
  });
});

describe('sendingInOrder', () => {
  it('sends without waiting for each acknowledgement, and returns once every one is in', async () => {
    const acks = [1, 2, 3].map(() => {
      let ack!: () => void;
      const promise = new Promise<void>((resolve) => (ack = resolve));
      return { promise, ack };
    });
    let returned = false;
    const sending = sendingInOrder((send) => {
      for (const { promise } of acks) send(promise);
      return 'done';
    }).then((value) => {
      returned = true;
      return value;
    });
    acks[0]!.ack();
    acks[2]!.ack();
    await later(undefined, 5);
    expect(returned).toBe(false);
    acks[1]!.ack();
    await expect(sending).resolves.toBe('done');
  });

  it('when the body throws, awaits what it sent (nothing left unhandled) and throws its error', async () => {
    const acknowledged: string[] = [];
    await expect(
      sendingInOrder((send) => {
        send(later(undefined, 10).then(() => void acknowledged.push('rls_enabled')));
        send(failLater('NATS is away', 5));
        throw new Error('policy listings_read_public is missing');
      }),
    ).rejects.toThrow('policy listings_read_public is missing');
    expect(acknowledged).toEqual(['rls_enabled']);
  });

  it('throws a failed send', async () => {
    await expect(sendingInOrder((send) => send(failLater('NATS is away', 1)))).rejects.toThrow('NATS is away');
  });
});
