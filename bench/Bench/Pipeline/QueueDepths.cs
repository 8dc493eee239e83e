using RabbitMQ.Client;

namespace Pipeline.Bench.Pipeline;

/// <summary>
/// Samples the depth of the pipeline's two queues once a second while a run goes on: where the backlog builds up is the
/// stage that limits the throughput (intake on every replica, or the leader's commit).
/// </summary>
public sealed class QueueDepths : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private readonly Dictionary<string, uint> max = new(StringComparer.Ordinal);
    private Task? sampling;
    private int disposed;

    public IReadOnlyDictionary<string, uint> Max => max;

    public static QueueDepths Start(Uri amqp, params string[] queues)
    {
        var depths = new QueueDepths();
        depths.sampling = depths.SampleAsync(amqp, queues);
        return depths;
    }

    /// <summary>Stops sampling; idempotent (the scenario stops it before reading <see cref="Max"/>, and again on the way out).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        await stop.CancelAsync();
        if (sampling is not null)
        {
            await sampling;
        }

        stop.Dispose();
    }

    private async Task SampleAsync(Uri amqp, string[] queues)
    {
        try
        {
            var factory = new ConnectionFactory { Uri = amqp, ClientProvidedName = "pipeline-bench-depths" };
            await using var connection = await factory.CreateConnectionAsync(stop.Token);
            await using var channel = await connection.CreateChannelAsync(cancellationToken: stop.Token);
            while (!stop.IsCancellationRequested)
            {
                foreach (var queue in queues)
                {
                    var depth = await channel.MessageCountAsync(queue, stop.Token);
                    max[queue] = Math.Max(depth, max.GetValueOrDefault(queue));
                }

                await Task.Delay(TimeSpan.FromSeconds(1), stop.Token);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }
}
