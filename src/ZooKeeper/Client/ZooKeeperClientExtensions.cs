using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Client;

/// <summary>Helpers on top of the operations: create a path with its parents, delete a subtree.</summary>
public static class ZooKeeperClientExtensions
{
    /// <summary>Creates <paramref name="path"/> and any missing parent as persistent nodes; existing nodes are left as they are.</summary>
    public static async Task EnsurePathAsync(this ZooKeeperClient client, string path, IReadOnlyList<Acl>? acl = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        PathRules.Validate(path);
        if (path == "/")
        {
            return;
        }

        var current = "";
        foreach (var segment in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current += "/" + segment;
            try
            {
                await client.CreateAsync(current, null, acl ?? Acl.OpenUnsafe, CreateMode.Persistent, cancellationToken).ConfigureAwait(false);
            }
            catch (KeeperException ex) when (ex.Code == ErrorCode.NodeExists)
            {
                // Someone (maybe our own earlier attempt whose reply was lost) created it: that is the goal.
            }
        }
    }

    /// <summary>Deletes <paramref name="path"/> and everything below it, depth first; nodes that vanish meanwhile are fine.
    /// A node we may not list (no READ) is taken for a leaf: deleting it needs only DELETE on its parent.</summary>
    public static async Task DeleteRecursiveAsync(this ZooKeeperClient client, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        PathRules.Validate(path);
        IReadOnlyList<string> children;
        try
        {
            children = (await client.GetChildrenAsync(path, null, cancellationToken).ConfigureAwait(false)).Children;
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
            return;
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoAuth)
        {
            children = [];
        }

        foreach (var child in children)
        {
            await client.DeleteRecursiveAsync(PathRules.Combine(path, child), cancellationToken).ConfigureAwait(false);
        }

        if (path == "/")
        {
            return;
        }

        try
        {
            await client.DeleteAsync(path, -1, cancellationToken).ConfigureAwait(false);
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NotEmpty)
        {
            // A child appeared after we listed them: go round again.
            await client.DeleteRecursiveAsync(path, cancellationToken).ConfigureAwait(false);
        }
    }
}
