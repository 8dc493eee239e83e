using Microsoft.Extensions.Logging;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Recipes;

public sealed partial class ElectionCandidate
{
    /// <summary>Creates our protected node, or finds the one an earlier attempt created before its reply was lost. A create
    /// is never repeated before the lookup for its guid has answered, however many attempts in between fail.</summary>
    private async Task<string> JoinAsync(ZooKeeperClient zk, Membership membership, CancellationToken token)
    {
        var prefix = membership.Prefix;
        while (true)
        {
            if (membership.LookupPending && await FindByPrefixAsync(zk, prefix, token).ConfigureAwait(false) is { } found)
            {
                membership.LookupPending = false;
                logger.LogInformation("Found our election node {Node} after a lost create reply", found);
                SetState(ElectionState.Candidate, null, $"joined as {found} (found by guid)");
                return found;
            }

            membership.LookupPending = true; // until the create's reply arrives, it may be applied without our knowing
            try
            {
                var created = await zk.CreateAsync(PathRules.Combine(options.ElectionPath, prefix), info.ToJson(), options.NodeAcl(), CreateMode.EphemeralSequential, token).ConfigureAwait(false);
                membership.LookupPending = false;
                var name = created.Path[(created.Path.LastIndexOf('/') + 1)..];
                SetState(ElectionState.Candidate, null, $"joined as {name}");
                return name;
            }
            catch (KeeperException ex) when (!ex.OutcomeUnknown)
            {
                membership.LookupPending = false; // the server answered: nothing was created
                if (ex.Code != ErrorCode.NoNode)
                {
                    throw;
                }

                await zk.EnsurePathAsync(options.ElectionPath, options.NodeAcl(), token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Our node by its guid, or null once the server has said there is none.</summary>
    private async Task<string?> FindByPrefixAsync(ZooKeeperClient zk, string prefix, CancellationToken token)
    {
        try
        {
            // The server we reach now may lag behind the one that took the create: catch up with the leader first.
            await zk.SyncAsync(options.ElectionPath, token).ConfigureAwait(false);
            var children = await zk.GetChildrenAsync(options.ElectionPath, null, token).ConfigureAwait(false);
            return children.Children.FirstOrDefault(c => c.StartsWith(prefix, StringComparison.Ordinal));
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
            return null; // no election path, so no node of ours
        }
    }

    /// <summary>Deletes our node, and any other of our session's, and stays out until <see cref="Rejoin"/>. Runs again on
    /// every wake-up while we stay out, so a node of ours that turns up late is removed too.</summary>
    private async Task LeaveAsync(ZooKeeperClient zk, Membership membership, CancellationToken token)
    {
        RevokeLease("resigned");
        IReadOnlyList<string> children;
        try
        {
            children = (await zk.GetChildrenAsync(options.ElectionPath, null, token).ConfigureAwait(false)).Children;
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
            children = [];
        }

        foreach (var name in children.Where(membership.Created))
        {
            try
            {
                if (name == ledNode)
                {
                    await DeleteWithMarkerAsync(zk, name, SuccessionCause.Graceful, token).ConfigureAwait(false); // the leader resigns: a successor should know
                }
                else
                {
                    await zk.DeleteAsync(PathRules.Combine(options.ElectionPath, name), -1, token).ConfigureAwait(false);
                }
            }
            catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
            {
            }

            logger.LogInformation("{NodeId} resigned; node {Node} deleted", options.NodeId, name);
        }

        StopSignalTasks();
        ledNode = null;
        if (membership.Node is not null || membership.LookupPending)
        {
            membership.Renew(); // the next node gets a new guid; the old ones stay ours, in case one turns up late
        }

        Znode = null;
        SetState(ElectionState.Idle, null, "resigned");
        lock (gate)
        {
            resigned?.TrySetResult();
        }
    }

    /// <summary>Deletes a node of our session that is not our node (a create whose reply was lost, applied after all).</summary>
    private async Task DeleteOrphanAsync(ZooKeeperClient zk, string name, CancellationToken token)
    {
        try
        {
            await zk.DeleteAsync(PathRules.Combine(options.ElectionPath, name), -1, token).ConfigureAwait(false);
            logger.LogWarning("Deleted election node {Node} of {NodeId}'s session: not its current node, it would have blocked the election", name, options.NodeId);
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
        }
    }

    /// <summary>
    /// Our place in the election within one session: the guid our next node is named by, whether a create for it may have
    /// been applied without our seeing the reply, and our node once known. Every guid of the session is remembered, so a
    /// node of an earlier one that turns up late is recognised as ours and removed instead of blocking the election.
    /// </summary>
    private sealed class Membership
    {
        private readonly List<string> prefixes = [];

        public Membership() => Renew();

        /// <summary>"_c_{guid}-n_": what our next node's name starts with.</summary>
        public string Prefix { get; private set; } = "";

        /// <summary>A create for <see cref="Prefix"/> may have been applied unseen: look for it before creating again.</summary>
        public bool LookupPending { get; set; }

        public string? Node { get; set; }

        /// <summary>Takes a new guid for the next node; the old ones stay ours.</summary>
        public void Renew()
        {
            Prefix = $"{NamePrefix}{Guid.NewGuid():D}{SequenceMarker}";
            prefixes.Add(Prefix);
            LookupPending = false;
            Node = null;
        }

        /// <summary>True when <paramref name="name"/> carries one of this session's guids.</summary>
        public bool Created(string name) => prefixes.Exists(p => name.StartsWith(p, StringComparison.Ordinal));
    }
}
