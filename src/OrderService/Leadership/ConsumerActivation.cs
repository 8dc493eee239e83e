using Microsoft.Extensions.Options;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Configuration;

namespace Pipeline.OrderService.Leadership;

/// <summary>
/// The SingleActiveConsumer comparison mode's stand-in for a lease: the token this replica commits under since RabbitMQ last
/// made one of its consumers the active one. RabbitMQ never tells a consumer that it became active, nor that it stopped
/// being active, so activation is inferred: a delivery on a channel or under a consumer tag not seen before is a new
/// activation (a consumer is activated at most once: RabbitMQ moves the activation on only when the active consumer is
/// cancelled or its channel closes, and a reconnect consumes on a new channel; the tag alone is not enough, a reconnected
/// consumer was seen to keep its tag).
/// <para>Token = (generation 0, epoch = Unix milliseconds when that first delivery arrived), strictly above the previous
/// activation's epoch. Epochs are wall-clock times of one machine, so a later activation carries a greater token, and the
/// fault suite's checker can read the peer's history like ours: a paused ex-consumer that commits its batch in hand after
/// its successor was activated writes ledger rows with a smaller token after larger ones (invariant 4), or rows that began
/// after a newer token was logged (invariant 5 in time). To give the checker that time, each activation is also recorded
/// through <see cref="FencedCommitter.AcquireFenceAsync"/> (its "Fence ... acquired" log line and the fence row), but a
/// refusal stops nothing: in this mode the fence check is disabled, as there is nothing to check it against.</para>
/// </summary>
public sealed class ConsumerActivation(FencedCommitter committer, IOptions<PipelineOptions> options, ILogger<ConsumerActivation> logger) : IDisposable
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly Lock sync = new();
    private string? consumerTag;
    private object? channel;
    private FenceToken? current;

    /// <summary>Whether the replica runs in the SingleActiveConsumer mode at all.</summary>
    public bool Enabled => options.Value.CommitMode == CommitMode.SingleActiveConsumer;

    public string NodeId => options.Value.NodeId;

    /// <summary>The token of the latest activation; null before the first delivery. Never revoked (nothing would tell us).</summary>
    public FenceToken? Current
    {
        get
        {
            lock (sync)
            {
                return current;
            }
        }
    }

    /// <summary>Called for every delivery: starts a new activation when <paramref name="tag"/> or <paramref name="on"/>
    /// (the delivery's channel, compared by reference) is new.</summary>
    public async Task EnterAsync(string tag, object? on, CancellationToken cancellationToken)
    {
        lock (sync)
        {
            if (consumerTag == tag && ReferenceEquals(channel, on))
            {
                return;
            }
        }

        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (sync)
            {
                if (consumerTag == tag && ReferenceEquals(channel, on))
                {
                    return;
                }
            }

            var previous = Current?.Epoch ?? 0;
            var token = new FenceToken(0, Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), previous + 1));
            logger.LogWarning("SingleActiveConsumer {NodeId} activated with token {Token} (consumer {ConsumerTag}, channel {Channel})", NodeId, token, tag,
                on is RabbitMQ.Client.IChannel c ? c.ChannelNumber : -1);
            await committer.AcquireFenceAsync(token, NodeId, cancellationToken).ConfigureAwait(false);
            lock (sync)
            {
                current = token;
                consumerTag = tag;
                channel = on;
            }
        }
        finally
        {
            gate.Release();
        }
    }

    public void Dispose() => gate.Dispose();
}
