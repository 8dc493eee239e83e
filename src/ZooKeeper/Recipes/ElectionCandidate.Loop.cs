using Microsoft.Extensions.Logging;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Recipes;

public sealed partial class ElectionCandidate
{
    private async Task RunAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            ZooKeeperClient zk;
            try
            {
                zk = await ZooKeeperClient.ConnectAsync(options.ClientOptions(), token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is KeeperException or System.Net.Sockets.SocketException or IOException)
            {
                logger.LogWarning("Election candidate {NodeId} cannot reach ZooKeeper: {Reason}; retrying", options.NodeId, ex.Message);
                await DelayAsync(options.RetryDelay, token).ConfigureAwait(false);
                continue;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            client = zk;
            zk.StateChanged += OnClientStateChanged;
            try
            {
                await ParticipateAsync(zk, token).ConfigureAwait(false);
            }
            finally
            {
                RevokeLease(token.IsCancellationRequested ? "stopping" : "session ended");
                zk.StateChanged -= OnClientStateChanged;

                // Closing the session deletes our ephemeral node at once: the successor leads in milliseconds.
                await zk.DisposeAsync().ConfigureAwait(false);
                Znode = null;
            }

            if (!token.IsCancellationRequested)
            {
                SetState(ElectionState.Lost, null, $"session {zk.State}");
                metrics.SessionLost();
            }
        }
    }

    /// <summary>Takes part with one session until it ends (expired, auth failed) or we stop.</summary>
    private async Task ParticipateAsync(ZooKeeperClient zk, CancellationToken token)
    {
        var guid = Guid.NewGuid();
        string? ours = null;
        while (!token.IsCancellationRequested && !zk.State.IsTerminal())
        {
            var signal = NewSignal();
            Volatile.Write(ref wake, signal); // from here on, any event re-runs the evaluation
            try
            {
                if (zk.State == ConnectionState.Connected)
                {
                    if (IsResignRequested())
                    {
                        ours = await LeaveAsync(zk, ours, token).ConfigureAwait(false);
                        guid = Guid.NewGuid();
                    }
                    else
                    {
                        ours ??= await JoinAsync(zk, guid, token).ConfigureAwait(false);
                        Znode = ours;
                        if (!await EvaluateAsync(zk, ours, token).ConfigureAwait(false))
                        {
                            ours = null; // our node is gone: rejoin with a new one
                            guid = Guid.NewGuid();
                            continue;
                        }
                    }
                }

                await signal.Task.WaitAsync(token).ConfigureAwait(false);
            }
            catch (KeeperException ex) when (ex.Code is ErrorCode.ConnectionLoss or ErrorCode.OperationTimeout)
            {
                // The state callback has already suspended any lease; wait for the reconnect (or expiry) and re-check.
                await WaitQuietlyAsync(signal.Task, token).ConfigureAwait(false);
            }
            catch (KeeperException ex) when (ex.Code is ErrorCode.SessionExpired or ErrorCode.AuthFailed)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>One look at the election; grants or withdraws the lease. False when our node no longer exists.</summary>
    private async Task<bool> EvaluateAsync(ZooKeeperClient zk, string ours, CancellationToken token)
    {
        ChildrenResult children;
        try
        {
            children = await zk.GetChildrenAsync(options.ElectionPath, null, token).ConfigureAwait(false);
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
            RevokeLease("the election path was deleted");
            return false;
        }

        // Generation and children come from one reply, so they describe the same incarnation of the election path.
        var generation = children.Stat.Czxid;
        var sorted = Sorted(children.Children).ToList();
        var index = sorted.FindIndex(c => c.Name == ours);
        if (index < 0)
        {
            RevokeLease("our election node was deleted");
            logger.LogWarning("Election node {Node} of {NodeId} is gone; rejoining", ours, options.NodeId);
            return false;
        }

        if (index == 0)
        {
            var ourPath = PathRules.Combine(options.ElectionPath, ours);
            var stat = await zk.ExistsAsync(ourPath, wakeWatcher, token).ConfigureAwait(false); // also watches our own deletion
            if (stat is null || stat.Value.EphemeralOwner != zk.SessionId)
            {
                RevokeLease("our election node is not owned by our session");
                return false;
            }

            Grant(zk, new FencingToken(generation, sorted[0].Sequence), ours);
            return true;
        }

        RevokeLease("not the lowest node");
        var predecessor = PathRules.Combine(options.ElectionPath, sorted[index - 1].Name);
        if (await zk.ExistsAsync(predecessor, wakeWatcher, token).ConfigureAwait(false) is null)
        {
            Signal(); // it left between the listing and the watch: look again
        }
        else if (State != ElectionState.Candidate)
        {
            SetState(ElectionState.Candidate, null, $"waiting behind {sorted[index - 1].Name}");
        }

        return true;
    }

    private void Grant(ZooKeeperClient zk, FencingToken token, string znode)
    {
        var current = lease;
        if (current is { IsRevoked: false } && current.Token == token)
        {
            return; // still leading under the same lease
        }

        var granted = new LeadershipLease(token, options.NodeId, znode);
        Interlocked.Exchange(ref lease, granted);

        // The connection may have dropped since the reply that led here. The state callback revokes whatever lease it finds,
        // and the client's state is set before that callback runs: checking the state after publishing the lease closes
        // the gap in both orders.
        if (zk.State != ConnectionState.Connected)
        {
            RevokeLease($"ZooKeeper {zk.State} while granting");
            return;
        }

        logger.LogInformation("{NodeId} leads with token {Token} (node {Node})", options.NodeId, token, znode);
        metrics.LeaseGranted(granted);
        SetState(ElectionState.Leader, granted, "lowest live node, owned by our session");
    }

    /// <summary>Creates our protected node, or finds the one an earlier attempt created before its reply was lost.</summary>
    private async Task<string> JoinAsync(ZooKeeperClient zk, Guid guid, CancellationToken token)
    {
        var prefix = $"{NamePrefix}{guid:D}{SequenceMarker}";
        while (true)
        {
            try
            {
                var created = await zk.CreateAsync(PathRules.Combine(options.ElectionPath, prefix), info.ToJson(), options.NodeAcl(), CreateMode.EphemeralSequential, token).ConfigureAwait(false);
                var name = created.Path[(created.Path.LastIndexOf('/') + 1)..];
                SetState(ElectionState.Candidate, null, $"joined as {name}");
                return name;
            }
            catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
            {
                await zk.EnsurePathAsync(options.ElectionPath, options.NodeAcl(), token).ConfigureAwait(false);
            }
            catch (KeeperException ex) when (ex.OutcomeUnknown)
            {
                // The node may exist without our knowing its name: wait for the session to serve again, then look for the guid.
                await WaitConnectedAsync(zk, token).ConfigureAwait(false);
                var children = await zk.GetChildrenAsync(options.ElectionPath, null, token).ConfigureAwait(false);
                var found = children.Children.FirstOrDefault(c => c.StartsWith(prefix, StringComparison.Ordinal));
                if (found is not null)
                {
                    logger.LogInformation("Found our election node {Node} after a lost create reply", found);
                    SetState(ElectionState.Candidate, null, $"joined as {found} (found by guid)");
                    return found;
                }
            }
        }
    }

    private async Task<string?> LeaveAsync(ZooKeeperClient zk, string? ours, CancellationToken token)
    {
        RevokeLease("resigned");
        if (ours is not null)
        {
            try
            {
                await zk.DeleteAsync(PathRules.Combine(options.ElectionPath, ours), -1, token).ConfigureAwait(false);
            }
            catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
            {
            }

            logger.LogInformation("{NodeId} resigned; node {Node} deleted", options.NodeId, ours);
        }

        Znode = null;
        SetState(ElectionState.Idle, null, "resigned");
        lock (gate)
        {
            resigned?.TrySetResult();
        }

        return null;
    }

    private bool IsResignRequested()
    {
        lock (gate)
        {
            return resignRequested;
        }
    }

    private async Task WaitConnectedAsync(ZooKeeperClient zk, CancellationToken token)
    {
        while (zk.State != ConnectionState.Connected)
        {
            if (zk.State.IsTerminal())
            {
                throw new KeeperException(ErrorCode.SessionExpired);
            }

            var signal = NewSignal();
            Volatile.Write(ref wake, signal);
            if (zk.State == ConnectionState.Connected)
            {
                break;
            }

            await signal.Task.WaitAsync(zk.SessionTimeout, token).ConfigureAwait(false);
        }
    }

    private static async Task WaitQuietlyAsync(Task signal, CancellationToken token)
    {
        try
        {
            await signal.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken token)
    {
        try
        {
            await Task.Delay(delay, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
