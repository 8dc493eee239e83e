using System.Diagnostics;
using MassTransit;
using Pipeline.Contracts;

namespace Pipeline.Bench.Ceilings;

/// <summary>
/// MassTransit's own batch consumer draining a pre-filled queue of CommitInventory messages: Batch&lt;CommitInventory&gt;
/// with a message limit of 100 (our CommitBatchSize), a 20 ms time limit (our CommitBatchTimeLimit until issue 15; a full queue fills every batch before it), one batch at a time
/// (our commits are serialized by the fence), prefetch 200, and a handler that does nothing.
/// Messages/s from the first batch after the warm-up (the first <c>warmUp</c> messages) to the last one: the ceiling of the
/// leader's commit stage without the database.
/// </summary>
public static class MassTransitBatchDrain
{
    public static async Task<Throughput> MeasureAsync(BenchBroker broker, string queue, int count, int warmUp, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(broker);
        var counter = new DrainCounter(count, warmUp);
        var bus = await broker.StartBusAsync(cfg => cfg.ReceiveEndpoint(queue, e =>
        {
            e.PrefetchCount = 200;
            e.Consumer(() => new TrivialBatchConsumer(counter), c => c.Options<BatchOptions>(o => o
                .SetMessageLimit(100)
                .SetTimeLimit(TimeSpan.FromMilliseconds(20))
                .SetConcurrencyLimit(1)));
        }), cancellationToken);
        try
        {
            await counter.Done.WaitAsync(TimeSpan.FromSeconds(300), cancellationToken);
            // The consumer returned for the last batch; its acks follow at once, so the queue is empty or nearly so here.
            return new Throughput("MassTransit Batch<CommitInventory> drain (trivial handler)", counter.Measured, counter.Elapsed.TotalSeconds);
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await bus.StopAsync(stop.Token);
        }
    }

    /// <summary>Counts consumed messages; the clock starts at the first batch after the warm-up. Batches come one at a time
    /// (concurrency limit 1).</summary>
    private sealed class DrainCounter(int expected, int warmUp)
    {
        private readonly TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Stopwatch clock = new();
        private int consumed;
        private int before = -1;

        public Task Done => done.Task;

        public TimeSpan Elapsed => clock.Elapsed;

        /// <summary>The messages from the batch that started the clock on.</summary>
        public int Measured => expected - before;

        public void Add(int messages)
        {
            if (before < 0 && consumed >= warmUp)
            {
                before = consumed;
                clock.Start();
            }

            consumed += messages;
            if (consumed >= expected)
            {
                clock.Stop();
                done.TrySetResult();
            }
        }
    }

    private sealed class TrivialBatchConsumer(DrainCounter counter) : IConsumer<Batch<CommitInventory>>
    {
        public Task Consume(ConsumeContext<Batch<CommitInventory>> context)
        {
            counter.Add(context.Message.Length);
            return Task.CompletedTask;
        }
    }
}
