using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;
using Xunit;

namespace Pipeline.Testing;

/// <summary>
/// A ZooKeeper subtree of its own for one test class, <c>/pipeline-tests/pt_{pid}_{random}</c>: clients made with
/// <see cref="ConnectString"/> see it as "/" and cannot touch another class's nodes. Removed afterwards, with whatever
/// orphans crashed runs left. Its own client authenticates as the replicas' identity (<see cref="TestIdentities.ZooKeeper"/>), so
/// it can remove the election paths they made, which only that identity may write.
/// </summary>
public sealed class ZooKeeperChroot : IAsyncLifetime
{
    public const string Root = "/pipeline-tests";
    private static readonly SemaphoreSlim CleanupGate = new(1, 1);
    private static bool cleanedOrphans;

    /// <summary>The chroot's path on the server.</summary>
    public string Path { get; } = Root + "/" + TestResourceNames.New();

    /// <summary>The servers, without chroot.</summary>
    public string Servers { get; private set; } = "";

    /// <summary>The servers with this chroot: what a client under test connects with.</summary>
    public string ConnectString => Servers + Path;

    /// <summary>Options for a client inside the chroot, with a short session that suits tests.</summary>
    public ZooKeeperClientOptions Options(TimeSpan? sessionTimeout = null) => new()
    {
        ConnectString = ConnectString,
        SessionTimeout = sessionTimeout ?? TimeSpan.FromSeconds(4),
        RequestTimeout = TimeSpan.FromSeconds(15),
    };

    /// <summary>A connected client inside the chroot; the caller disposes it.</summary>
    public Task<ZooKeeperClient> ConnectAsync(TimeSpan? sessionTimeout = null) => ZooKeeperClient.ConnectAsync(Options(sessionTimeout));

    public async Task InitializeAsync()
    {
        var services = await TestServices.GetAsync().ConfigureAwait(false);
        Servers = services.ZooKeeper.Split('/', 2)[0];
        await using var admin = await ConnectAdminAsync().ConfigureAwait(false);
        await RemoveOrphansOnceAsync(admin).ConfigureAwait(false);
        await admin.EnsurePathAsync(Path).ConfigureAwait(false);
    }

    public async Task DisposeAsync()
    {
        if (Servers.Length == 0)
        {
            return;
        }

        await using var admin = await ConnectAdminAsync().ConfigureAwait(false);
        await admin.DeleteRecursiveAsync(Path).ConfigureAwait(false);
    }

    private Task<ZooKeeperClient> ConnectAdminAsync()
    {
        var options = new ZooKeeperClientOptions { ConnectString = Servers };
        options.Credentials.Add(TestIdentities.ZooKeeper);
        return ZooKeeperClient.ConnectAsync(options);
    }

    private static async Task RemoveOrphansOnceAsync(ZooKeeperClient admin)
    {
        await CleanupGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (cleanedOrphans)
            {
                return;
            }

            try
            {
                var children = await admin.GetChildrenAsync(Root).ConfigureAwait(false);
                foreach (var orphan in children.Children.Where(TestResourceNames.IsOrphan))
                {
                    try
                    {
                        await admin.DeleteRecursiveAsync(Root + "/" + orphan).ConfigureAwait(false);
                    }
                    catch (KeeperException)
                    {
                        // An orphan that resists (an ACL we cannot pass) stays; it harms no test, each has its own chroot.
                    }
                }
            }
            catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
            {
            }

            cleanedOrphans = true;
        }
        finally
        {
            CleanupGate.Release();
        }
    }
}
