using System.Globalization;
using System.Text;
using Npgsql;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.OrderService.Commit;

/// <summary>
/// The leader's crash signal in PostgreSQL: a session-level advisory lock, keyed by the fence resource and the leader's
/// token, held on a connection of its own. When the leader's process dies, its operating system closes the connection and
/// PostgreSQL lets the lock go at once (35 ms after kill -9 here), waking the standbys queued on it.
/// <para>The holding connection stays idle but for a one-row query a second, so a kill is noticed at once (a backend busy
/// in a statement notices its client's death only when the statement ends), and a lost connection is noticed within a
/// second and taken again. The server drops a connection whose client went silent (a partition) after about 3 s
/// (tcp_user_timeout and keepalives set per connection), so a leader cut off from the database is succeeded too.</para>
/// <para>A standby waits only on a lock it has seen held, on one connection: a lock it never saw taken proves nothing
/// (the leader may not have taken it yet), and a lock that vanished with our own connection (a database restart) neither.
/// Such cases fall back to the session's expiry.</para>
/// </summary>
public sealed class AdvisoryLockCrashSignal : ILeaderCrashSignal, IAsyncDisposable
{
    /// <summary>How often the leader checks that its signal's connection still lives.</summary>
    private static readonly TimeSpan HoldCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>A standby queued on the lock asks again this often (lock_timeout), so a silently dead connection of its own
    /// is noticed; the queue place is taken again on the same connection, so no release falls between two waits.</summary>
    private static readonly TimeSpan WaitSlice = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(2);

    /// <summary>The signal connections' application_name: how operators (and the fault tests) find them in pg_stat_activity.</summary>
    public const string ApplicationName = "pipeline-crash-signal";

    private readonly NpgsqlDataSource dataSource;
    private readonly string resource;
    private readonly ILogger logger;

    public AdvisoryLockCrashSignal(string connectionString, string resource, ILogger<AdvisoryLockCrashSignal> logger)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentException.ThrowIfNullOrWhiteSpace(resource);
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false, // closing the connection must end the backend, and with it the lock
            ApplicationName = ApplicationName,
            CommandTimeout = (int)(WaitSlice.TotalSeconds * 2),
            Timeout = 5,
        };
        var settings = string.Create(CultureInfo.InvariantCulture,
            $"-c statement_timeout=0 -c idle_in_transaction_session_timeout=0 -c lock_timeout={(int)WaitSlice.TotalMilliseconds} -c tcp_user_timeout=3000 -c tcp_keepalives_idle=1 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=2");
        builder.Options = string.IsNullOrEmpty(builder.Options) ? settings : builder.Options + " " + settings;
        // Never traced: a SELECT 1 a second and a lock wait every few seconds are no operation of anyone's.
        var source = new NpgsqlDataSourceBuilder(builder.ConnectionString);
        source.ConfigureTracing(tracing => tracing.ConfigureCommandFilter(_ => false).ConfigureBatchFilter(_ => false).EnablePhysicalOpenTracing(false));
        dataSource = source.Build();
        this.resource = resource;
        this.logger = logger;
    }

    /// <summary>The lock's key for a token: FNV-1a over "resource/generation/sequence", so leaders of other resources (or
    /// other pipelines on the same database) never share one.</summary>
    private long KeyFor(FencingToken token)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{resource}/{token.Generation}/{token.Sequence}")))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return unchecked((long)hash);
    }

    public async Task HoldAsync(FencingToken token, Action held, CancellationToken whileLeading)
    {
        var key = KeyFor(token);
        string? lastProblem = null;
        var delay = TimeSpan.FromMilliseconds(100);
        while (!whileLeading.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(whileLeading).ConfigureAwait(false);
                if (!await ScalarAsync<bool>(connection, "SELECT pg_try_advisory_lock($1)", key, whileLeading).ConfigureAwait(false))
                {
                    // A standby took it after our connection was lost: it is deleting our node; we are being deposed.
                    lastProblem = Report(lastProblem, $"the crash signal of {token} is taken by another session (a standby saw it released)");
                    await Task.Delay(HoldCheckInterval, whileLeading).ConfigureAwait(false);
                    continue;
                }

                logger.LogDebug("Holding the crash signal of {Token} (key {Key})", token, key);
                held();
                lastProblem = null;
                delay = TimeSpan.FromMilliseconds(100);
                while (true)
                {
                    await Task.Delay(HoldCheckInterval, whileLeading).ConfigureAwait(false);
                    await ScalarAsync<int>(connection, "SELECT 1", null, whileLeading).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (whileLeading.IsCancellationRequested)
            {
                return; // the connection closes with the using: the lock goes
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                lastProblem = Report(lastProblem, $"holding the crash signal of {token} failed: {ex.Message}");
                await Task.Delay(delay, whileLeading).ConfigureAwait(false);
                delay = Min(delay * 2, MaxRetryDelay);
            }
        }
    }

    public async Task WaitForReleaseAsync(FencingToken leader, Action armed, CancellationToken cancellationToken)
    {
        var key = KeyFor(leader);
        var (classId, objectId) = ((uint)((ulong)key >> 32), (uint)key);
        var retry = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

                // Until the leader is seen holding it, the lock's absence says nothing.
                var poll = TimeSpan.FromMilliseconds(20);
                while (!await HeldAsync(connection, classId, objectId, cancellationToken).ConfigureAwait(false))
                {
                    await Task.Delay(poll, cancellationToken).ConfigureAwait(false);
                    poll = Min(poll * 2, TimeSpan.FromMilliseconds(500));
                }

                retry = TimeSpan.FromMilliseconds(100);
                armed();
                while (!await TryWaitSliceAsync(connection, key, cancellationToken).ConfigureAwait(false))
                {
                }

                // Granted: whoever held it let it go. Nothing is to be held here; the connection's close frees it at once.
                logger.LogInformation("The crash signal of leader {Token} was released", leader);
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
            {
                // Our own connection failed (or the database restarted): what we saw held before proves nothing now.
                logger.LogDebug(ex, "Waiting on the crash signal of {Token} failed; trying again", leader);
                await Task.Delay(retry, cancellationToken).ConfigureAwait(false);
                retry = Min(retry * 2, MaxRetryDelay);
            }
        }
    }

    public ValueTask DisposeAsync() => dataSource.DisposeAsync();

    /// <summary>Queues for the lock for one <see cref="WaitSlice"/>: true once granted, false when the slice ran out.</summary>
    private static async Task<bool> TryWaitSliceAsync(NpgsqlConnection connection, long key, CancellationToken cancellationToken)
    {
        try
        {
            await ScalarAsync<object>(connection, "SELECT pg_advisory_lock($1)", key, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            return false;
        }
    }

    private static async Task<bool> HeldAsync(NpgsqlConnection connection, uint classId, uint objectId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid = $1 AND objid = $2 " +
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))", connection);
        command.Parameters.Add(new NpgsqlParameter<uint> { TypedValue = classId, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid });
        command.Parameters.Add(new NpgsqlParameter<uint> { TypedValue = objectId, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, long? key, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (key is { } k)
        {
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = k });
        }

        var result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return result is T typed ? typed : default!;
    }

    private string Report(string? last, string problem)
    {
        if (problem != last)
        {
            logger.LogWarning("{Problem}", problem);
        }

        return problem;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
