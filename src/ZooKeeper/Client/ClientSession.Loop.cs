using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Client;

internal sealed partial class ClientSession
{
    private const int SetWatchesBatchBytes = 128 * 1024;

    /// <summary>The least time a reconnect attempt gets, even at the session's deadline: a healthy server answers within it.</summary>
    private static readonly TimeSpan MinimumAttempt = TimeSpan.FromMilliseconds(100);

    private async Task RunAsync()
    {
        var token = shutdown.Token;
        var next = 0;
        var failedInPass = 0;
        var attempt = 0;
        while (!token.IsCancellationRequested && !State.IsTerminal() && !closing)
        {
            try
            {
                if (attempt++ > 0)
                {
                    await Task.Delay(WithinSession(TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * Options.MaxReconnectDelay.TotalMilliseconds)), token).ConfigureAwait(false);
                }

                if (failedInPass >= servers.Length)
                {
                    failedInPass = 0;
                    await Task.Delay(WithinSession(TimeSpan.FromSeconds(1)), token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }

            if (SessionId != 0 && Stopwatch.GetElapsedTime(Volatile.Read(ref lastHeard)) > NegotiatedTimeout)
            {
                logger.LogWarning("No ZooKeeper server reached for a whole session timeout ({Timeout} ms): session 0x{SessionId:x} counts as expired",
                    NegotiatedTimeout.TotalMilliseconds, SessionId);
                EndSession(ConnectionState.Expired);
                break;
            }

            var server = servers[next++ % servers.Length];
            Connection opened;
            try
            {
                opened = await Connection.OpenAsync(this, server, NewConnectRequest(), WithinSession(ConnectTimeout(), MinimumAttempt), token).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Whatever one attempt throws, the session must go on trying other servers, never die of it.
            catch (Exception ex) when (ex is not OutOfMemoryException)
#pragma warning restore CA1031
            {
                failedInPass++;
                if (!token.IsCancellationRequested)
                {
                    logger.LogDebug("ZooKeeper connection to {Server} failed: {Reason}", server, ex.Message);
                }

                continue;
            }

            await using (opened.ConfigureAwait(false))
            {
                if (opened.Handshake.IsExpired)
                {
                    logger.LogWarning("ZooKeeper server {Server} says session 0x{SessionId:x} has expired", server, SessionId);
                    EndSession(ConnectionState.Expired);
                    break;
                }

                failedInPass = 0;
                var reconnect = SessionId != 0;
                lock (gate)
                {
                    SessionId = opened.Handshake.SessionId;
                    password = opened.Handshake.Password;
                    NegotiatedTimeout = TimeSpan.FromMilliseconds(opened.Handshake.TimeOut);
                    connection = opened;
                }

                Heard(opened.HandshakeSentAt);
                if (reconnect)
                {
                    ZooKeeperMetrics.Reconnects.Add(1);
                }

                logger.LogInformation("ZooKeeper session 0x{SessionId:x} {Verb} to {Server}, timeout {Timeout} ms",
                    SessionId, reconnect ? "reconnected" : "connected", server, opened.Handshake.TimeOut);
                SetState(ConnectionState.Connected);

                var reason = await opened.RunAsync(Preamble(), token).ConfigureAwait(false);
                lock (gate)
                {
                    connection = null;
                }

                FailInFlight(opened, ErrorCode.ConnectionLoss);
                if (State.IsTerminal() || closing || token.IsCancellationRequested)
                {
                    break;
                }

                logger.LogWarning("ZooKeeper connection to {Server} lost: {Reason}", server, reason?.Message ?? "closed");
                if (reason is ZooKeeperProtocolException)
                {
                    logger.LogError(reason, "ZooKeeper protocol violation from {Server}; reconnecting", server);
                }

                SetState(ConnectionState.Disconnected);
            }
        }
    }

    private ConnectRequest NewConnectRequest() =>
        new(0, LastZxid, (int)Options.SessionTimeout.TotalMilliseconds, SessionId, password, ReadOnly: false);

    /// <summary>
    /// <paramref name="wait"/>, cut to end at the session's deadline (nothing heard for a whole session timeout), but not
    /// below <paramref name="floor"/>. Pauses and attempts that ran past it would leave the session Disconnected while it
    /// already counts as expired: callers would wait, for up to two seconds more than the timeout, on a session that is gone.
    /// </summary>
    private TimeSpan WithinSession(TimeSpan wait, TimeSpan floor = default)
    {
        if (SessionId == 0)
        {
            return wait; // no session yet: no deadline
        }

        var left = NegotiatedTimeout - Stopwatch.GetElapsedTime(Volatile.Read(ref lastHeard));
        return left < wait ? (left > floor ? left : floor) : wait;
    }

    private TimeSpan ConnectTimeout() =>
        Options.ConnectTimeout ?? TimeSpan.FromMilliseconds(Math.Max(NegotiatedTimeout.TotalMilliseconds / servers.Length, 250));

    /// <summary>What goes first on a new connection: the stored credentials, then the watches to re-register.</summary>
    private List<IRequestRecord> Preamble()
    {
        var preamble = new List<IRequestRecord>();
        lock (gate)
        {
            preamble.AddRange(credentials);
        }

        var (data, exist, child) = Watches.Snapshot();
        var batch = (Data: new List<string>(), Exist: new List<string>(), Child: new List<string>());
        var bytes = 0;
        foreach (var (list, target) in new[] { (data, 0), (exist, 1), (child, 2) })
        {
            foreach (var path in list)
            {
                if (bytes + path.Length > SetWatchesBatchBytes)
                {
                    preamble.Add(new SetWatchesRequest(LastZxid, batch.Data, batch.Exist, batch.Child));
                    batch = ([], [], []);
                    bytes = 0;
                }

                (target switch { 0 => batch.Data, 1 => batch.Exist, _ => batch.Child }).Add(path);
                bytes += path.Length;
            }
        }

        if (bytes > 0)
        {
            preamble.Add(new SetWatchesRequest(LastZxid, batch.Data, batch.Exist, batch.Child));
        }

        return preamble;
    }

    private void FailInFlight(Connection? dead, ErrorCode code)
    {
        if (dead is not null)
        {
            foreach (var packet in dead.InFlight)
            {
                packet.Fail(code);
            }
        }

        while (authWaiters.TryDequeue(out var waiter))
        {
            waiter.Fail(code);
        }

        while (Outgoing.TryDequeue(out var queued))
        {
            queued.Fail(code);
        }
    }

    private void SetState(ConnectionState state)
    {
        ConnectionStateChange change;
        Channel<ConnectionStateChange>[] targets;
        lock (gate)
        {
            if (State == state || State.IsTerminal())
            {
                return;
            }

            change = new ConnectionStateChange(state, State, SessionId, DateTimeOffset.UtcNow);
            State = state;
            targets = [.. subscribers];
            if (state.IsTerminal())
            {
                subscribers.Clear();
            }
        }

        foreach (var target in targets)
        {
            target.Writer.TryWrite(change);
            if (state.IsTerminal())
            {
                target.Writer.TryComplete();
            }
        }

        Dispatcher.Enqueue(() => StateChanged?.Invoke(this, change));
    }

    /// <summary>Makes the session terminal: everything outstanding fails, every watcher hears (None, state) once and is dropped.</summary>
    private void EndSession(ConnectionState state)
    {
        if (state == ConnectionState.Expired)
        {
            ZooKeeperMetrics.Expirations.Add(1);
        }

        var code = state == ConnectionState.Expired ? ErrorCode.SessionExpired : state == ConnectionState.AuthFailed ? ErrorCode.AuthFailed : ErrorCode.ConnectionLoss;
        SetState(state);
        Connection? current;
        lock (gate)
        {
            current = connection;
        }

        FailInFlight(current, code);
        var keeperState = state switch
        {
            ConnectionState.Expired => KeeperState.Expired,
            ConnectionState.AuthFailed => KeeperState.AuthFailed,
            _ => KeeperState.Closed,
        };
        var watchers = Watches.Clear();
        var ended = new WatchedEvent(EventType.None, keeperState, null);
        Dispatcher.Enqueue(() => watchers.ForEach(w => Invoke(w, ended)));
        _ = shutdown.CancelAsync();
    }

    private async Task SweepTimeoutsAsync()
    {
        var timeout = Options.RequestTimeout;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Clamp(timeout.TotalMilliseconds / 10, 10, 250)));
        try
        {
            while (await timer.WaitForNextTickAsync(shutdown.Token).ConfigureAwait(false))
            {
                var inFlight = connection?.InFlight ?? [];
                foreach (var packet in Outgoing.Snapshot.Concat(inFlight))
                {
                    if (packet != PingPacket && !packet.IsCompleted && Stopwatch.GetElapsedTime(packet.StartedAt) > timeout && packet.Fail(new KeeperException(ErrorCode.OperationTimeout, packet.ClientPath) { Operation = packet.Request.OpCode }))
                    {
                        ZooKeeperMetrics.RecordRequest(packet, ErrorCode.OperationTimeout);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
