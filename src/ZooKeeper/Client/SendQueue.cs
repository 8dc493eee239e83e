using System.Collections.Concurrent;

namespace Pipeline.ZooKeeper.Client;

/// <summary>Requests waiting for the sender: many producers, one consumer that wakes when something arrives.</summary>
internal sealed class SendQueue : IDisposable
{
    private readonly ConcurrentQueue<Packet> queue = new();
    private readonly SemaphoreSlim signal = new(0);

    public void Enqueue(Packet packet)
    {
        queue.Enqueue(packet);

        // One pending signal is enough: the consumer drains everything each time it wakes.
        if (signal.CurrentCount == 0)
        {
            signal.Release();
        }
    }

    public bool TryDequeue(out Packet packet) => queue.TryDequeue(out packet!);

    public Task WaitAsync(CancellationToken cancellationToken) => queue.IsEmpty ? signal.WaitAsync(cancellationToken) : Task.CompletedTask;

    /// <summary>A moment's snapshot, for the timeout sweep.</summary>
    public IEnumerable<Packet> Snapshot => queue;

    public void Dispose() => signal.Dispose();
}
