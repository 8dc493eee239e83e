using Microsoft.Extensions.Logging;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Recipes;

public sealed partial class ElectionCandidate
{
    /// <summary>The candidate's life: a session at a time, until disposal. Nothing else ends it: whatever fails is
    /// reported (<see cref="ElectionState.Failed"/>) and tried again after a backoff.</summary>
    private async Task RunAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            ZooKeeperClient zk;
            try
            {
                zk = await ZooKeeperClient.ConnectAsync(options.ClientOptions(), token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Whatever stops a session from starting is reported and retried; only disposal ends the loop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                await FailAsync(DescribeConnectFailure(ex), ex, token).ConfigureAwait(false);
                continue;
            }

            client = zk;
            zk.StateChanged += OnClientStateChanged;
            Exception? failure = null;
            try
            {
                await ParticipateAsync(zk, token).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // ParticipateAsync handles what it expects; anything else costs this session, never the loop.
            catch (Exception ex)
            {
                failure = token.IsCancellationRequested ? null : ex; // when stopping, whatever it threw is the stop's echo
            }

            RevokeLease(token.IsCancellationRequested ? "stopping" : "session ended");
            zk.StateChanged -= OnClientStateChanged;
            try
            {
                if (token.IsCancellationRequested && Znode is { } node && node == ledNode && zk.State == ConnectionState.Connected)
                {
                    // We stop leading on purpose: say so, and delete our node with it (closing the session would anyway).
                    using var briefly = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                    try
                    {
                        await DeleteWithMarkerAsync(zk, node, SuccessionCause.Graceful, briefly.Token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is KeeperException or OperationCanceledException or TimeoutException)
                    {
                        logger.LogDebug(ex, "Deleting {Node} before closing the session failed; closing the session deletes it", node);
                    }
                }

                // Closing the session deletes our ephemeral node at once: the successor leads in milliseconds.
                await zk.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Closing the ZooKeeper session of {NodeId} failed; the server will expire it", options.NodeId);
            }
#pragma warning restore CA1031

            Znode = null;
            StopSignalTasks(); // our node is gone with the session

            if (failure is not null)
            {
                await FailAsync(DescribeFailure(failure), failure, token).ConfigureAwait(false);
            }
            else if (!token.IsCancellationRequested)
            {
                SetState(ElectionState.Lost, null, $"session {zk.State}");
                metrics.SessionLost();
            }
        }
    }

    /// <summary>Takes part with one session until it ends (expired, auth failed) or we stop.</summary>
    private async Task ParticipateAsync(ZooKeeperClient zk, CancellationToken token)
    {
        var membership = new Membership();
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
                        await LeaveAsync(zk, membership, token).ConfigureAwait(false);
                    }
                    else
                    {
                        membership.Node ??= await JoinAsync(zk, membership, token).ConfigureAwait(false);
                        Znode = membership.Node;
                        if (!await EvaluateAsync(zk, membership, token).ConfigureAwait(false))
                        {
                            membership.Renew(); // our node is gone: rejoin with a new one
                            continue;
                        }
                    }
                }

                await signal.Task.WaitAsync(token).ConfigureAwait(false);
            }
            catch (KeeperException ex) when (ex.Code is ErrorCode.ConnectionLoss or ErrorCode.OperationTimeout)
            {
                // The state callback has already suspended any lease. Look again at the next event (a reconnect, or expiry),
                // or after a pause: a request can time out while the connection stays up, and then no event comes.
                await WaitQuietlyAsync(signal.Task, options.RetryDelay, token).ConfigureAwait(false);
            }
            catch (Exception) when (token.IsCancellationRequested || zk.State.IsTerminal())
            {
                return; // stopping, or the session is over (expired, closed, credentials refused): the caller starts another
            }
#pragma warning disable CA1031 // Any other error is reported and retried in this session: only disposal ends the loop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                RevokeLease("in doubt after an error");
                await FailAsync(DescribeFailure(ex), ex, token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>One look at the election; grants or withdraws the lease. False when our node no longer exists.</summary>
    private async Task<bool> EvaluateAsync(ZooKeeperClient zk, Membership membership, CancellationToken token)
    {
        var ours = membership.Node!;
        if (Interlocked.Exchange(ref releasedLeader, null) is { } released)
        {
            // The leader's signal went: its node, if still there, is still the lowest (sequences only grow), so it goes
            // without another look. Then a fresh listing, and a wait on whoever leads then (the finished wait is
            // forgotten, so the same leader, still there after a failed delete, is waited on anew).
            await DeleteOnSignalAsync(zk, released, token).ConfigureAwait(false);
            if (watch?.Node == released.Name)
            {
                StopWatching();
            }

            Signal();
            return true;
        }

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
        NoteListing(generation, children.Children);
        var sorted = Sorted(children.Children).Where(c => !IsForeign(c.Name)).ToList();
        foreach (var (name, _) in sorted.Where(c => c.Name != ours && membership.Created(c.Name)).ToList())
        {
            await DeleteOrphanAsync(zk, name, token).ConfigureAwait(false);
            sorted.RemoveAll(c => c.Name == name);
        }

        var index = sorted.FindIndex(c => c.Name == ours);
        if (index < 0)
        {
            StopHolding();
            RevokeLease("our election node was deleted");
            logger.LogWarning("Election node {Node} of {NodeId} is gone; rejoining", ours, options.NodeId);
            return false;
        }

        // From our predecessor down, the first ephemeral node is the candidate we wait for. A node named like one that is
        // not ephemeral (anyone may create one where the path's ACL is open) is foreign: it must not block the election.
        for (var i = index - 1; i >= 0; i--)
        {
            var predecessor = sorted[i].Name;

            // getData, not exists: on a node that is already gone it sets no watch (exists would, and that watch would
            // never fire, since sequential names never come back, yet be re-sent on every reconnect).
            DataResult data;
            try
            {
                data = await zk.GetDataAsync(PathRules.Combine(options.ElectionPath, predecessor), wakeWatcher, token).ConfigureAwait(false);
            }
            catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
            {
                Signal(); // it left between the listing and the watch: look again
                return true;
            }

            if (!ElectionNode.IsEphemeralOwner(data.Stat.EphemeralOwner))
            {
                MarkForeign(predecessor);
                continue;
            }

            if (data.Stat.EphemeralOwner == zk.SessionId)
            {
                await DeleteOrphanAsync(zk, predecessor, token).ConfigureAwait(false); // ours, yet not our node: it would block us for good
                Signal();
                return true;
            }

            RevokeLease("not the lowest live node");
            StopHolding();
            // The leader is the lowest live node: our predecessor, or (further back) sorted[0] once it is seen ephemeral.
            var leader = sorted[0];
            awaitedLeader = i == 0 ? (leader.Name, CandidateInfo.TryParse(data.Data)?.NodeId) : null;
            if (options.CrashSignal is not null && i > 0)
            {
                var (gone, ephemeral, nodeId) = await WatchNodeAsync(zk, leader.Name, token).ConfigureAwait(false);
                if (gone || !ephemeral)
                {
                    if (!gone)
                    {
                        MarkForeign(leader.Name);
                    }

                    Signal(); // the leader left between the listing and the watch, or is no candidate: look again
                    return true;
                }

                awaitedLeader = (leader.Name, nodeId);
            }

            WatchLeader(leader.Name, new FencingToken(generation, leader.Sequence), awaitedLeader?.NodeId);
            if (State != ElectionState.Candidate)
            {
                SetState(ElectionState.Candidate, null, $"waiting behind {predecessor}");
            }

            return true;
        }

        var stat = await zk.ExistsAsync(PathRules.Combine(options.ElectionPath, ours), wakeWatcher, token).ConfigureAwait(false); // also watches our own deletion
        if (stat is null || stat.Value.EphemeralOwner != zk.SessionId)
        {
            StopHolding();
            RevokeLease("our election node is not owned by our session");
            return false;
        }

        StopWatching();
        var fencingToken = new FencingToken(generation, sorted[index].Sequence);
        StartHolding(fencingToken); // before the grant: a standby waits on it only once our node is the lowest
        if (Grant(zk, fencingToken, ours) is { } granted)
        {
            await NoteSuccessionAsync(zk, granted, token).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>Grants a lease under <paramref name="token"/> unless one holds already; the new lease, or null.</summary>
    private LeadershipLease? Grant(ZooKeeperClient zk, FencingToken token, string znode)
    {
        var current = lease;
        if (current is { IsRevoked: false } && current.Token == token)
        {
            return null; // still leading under the same lease
        }

        var granted = new LeadershipLease(token, options.NodeId, znode);
        Interlocked.Exchange(ref lease, granted);

        // The connection may have dropped since the reply that led here. The state callback revokes whatever lease it finds,
        // and the client's state is set before that callback runs: checking the state after publishing the lease closes
        // the gap in both orders.
        if (zk.State != ConnectionState.Connected)
        {
            RevokeLease($"ZooKeeper {zk.State} while granting");
            return null;
        }

        logger.LogInformation("{NodeId} leads with token {Token} (node {Node})", options.NodeId, token, znode);
        metrics.LeaseGranted(granted);
        SetState(ElectionState.Leader, granted, "lowest live node, owned by our session");
        return granted;
    }

    private bool IsResignRequested()
    {
        lock (gate)
        {
            return resignRequested;
        }
    }

    /// <summary>Waits for <paramref name="signal"/>, at most <paramref name="limit"/> or until stopped; never throws.</summary>
    private static async Task WaitQuietlyAsync(Task signal, TimeSpan limit, CancellationToken token)
    {
        try
        {
            await signal.WaitAsync(limit, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
        }
    }
}
