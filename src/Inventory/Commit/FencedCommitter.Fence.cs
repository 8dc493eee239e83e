using Microsoft.Extensions.Logging;
using Npgsql;

namespace Pipeline.Inventory.Commit;

/// <summary>The fence on its own: a new leader's bump before its first commit, and the audit of a refused token.</summary>
public sealed partial class FencedCommitter
{
    private static readonly TimeSpan AcquireFirstDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan AcquireMaxDelay = TimeSpan.FromSeconds(2);

    /// <summary>The new leader's immediate fence bump. Refused (with the fence's current token) when the fence has already
    /// seen a newer token: we must not lead.</summary>
    public async Task<FenceAcquisition> AcquireFenceAsync(FenceToken token, string nodeId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (await BumpFenceAsync(hooks.PresentedToFence(token), nodeId, options.Resource, cancellationToken).ConfigureAwait(false))
                {
                    logger.LogInformation("Fence {Resource} acquired by {NodeId} with token {Token}", options.Resource, nodeId, token);
                    return new FenceAcquisition(true, token);
                }

                var current = await AuditRejectionAsync(token, nodeId, cancellationToken).ConfigureAwait(false);
                logger.LogError("Fence {Resource} refused {NodeId}: token {Token} is older than {Current}", options.Resource, nodeId, token, current);
                return new FenceAcquisition(false, current);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable && attempt < 10)
            {
                // A deposed leader's transaction still holds the row; Postgres ends it within idle_in_transaction_session_timeout.
                logger.LogWarning("Fence {Resource} is locked by another transaction; retrying ({Attempt})", options.Resource, attempt);
            }
        }
    }

    /// <summary>
    /// <see cref="AcquireFenceAsync"/> until it has an answer, for a leader whose lease is <paramref name="cancellationToken"/>:
    /// while the database cannot be reached nobody can commit anyway, so the leader keeps its lease and retries (100 ms,
    /// doubling to 2 s) rather than hand leadership around. Null once the token is cancelled (the lease ended, the
    /// service stops).
    /// </summary>
    public async Task<FenceAcquisition?> AcquireFenceRetryingAsync(FenceToken token, string nodeId, CancellationToken cancellationToken)
    {
        using var span = InventoryTracing.StartFenceBump(options.Resource, token, nodeId);
        var acquisition = await AcquireFenceRetryingUntracedAsync(token, nodeId, cancellationToken).ConfigureAwait(false);
        InventoryTracing.FenceBumped(span, acquisition);
        return acquisition;
    }

    private async Task<FenceAcquisition?> AcquireFenceRetryingUntracedAsync(FenceToken token, string nodeId, CancellationToken cancellationToken)
    {
        var delay = AcquireFirstDelay;
        while (true)
        {
            try
            {
                return await AcquireFenceAsync(token, nodeId, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return null;
            }
            catch (NpgsqlException ex)
            {
                logger.LogWarning("Could not acquire the fence with token {Token} ({Reason}); retrying in {Delay} ms", token, ex.Message, delay.TotalMilliseconds);
            }

            try
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, AcquireMaxDelay.Ticks));
        }
    }

    /// <summary>The fence bump on its own (autocommit): true when <paramref name="resource"/>'s row took the token.</summary>
    private async Task<bool> BumpFenceAsync(FenceToken token, string nodeId, string resource, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        using var command = new NpgsqlCommand(Sql.FenceBump, connection);
        AddFenceParameters(command.Parameters, token, nodeId, resource);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
    }

    private async Task<FenceToken> AuditRejectionAsync(FenceToken token, string nodeId, CancellationToken cancellationToken)
    {
        // Its own transaction (autocommit): the audit survives the rollback of the refused commit.
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        using var command = new NpgsqlCommand(Sql.AuditRejection, connection);
        AddFenceParameters(command.Parameters, token, nodeId);
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new FenceToken(reader.GetInt64(0), reader.GetInt64(1))
            : throw new InvalidOperationException($"The fence row '{options.Resource}' does not exist in leader_fence: run migrate (or fix the Resource setting).");
    }

}

/// <summary>Result of <see cref="FencedCommitter.AcquireFenceAsync"/>: acquired, or refused with the fence's current token.</summary>
public sealed record FenceAcquisition(bool Acquired, FenceToken Current);
