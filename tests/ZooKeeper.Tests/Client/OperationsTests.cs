using System.Text;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Client;

/// <summary>Every operation and its error codes against the real server, inside this class's chroot.</summary>
public sealed class OperationsTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static async Task<KeeperException> Fails(ErrorCode code, Func<Task> action)
    {
        var ex = await Assert.ThrowsAnyAsync<KeeperException>(action);
        Assert.Equal(code, ex.Code);
        return ex;
    }

    [Fact]
    public async Task Create_get_set_and_delete_with_versions()
    {
        await using var zk = await chroot.ConnectAsync();
        var created = await zk.CreateAsync("/ops-crud", Bytes("one"), Acl.OpenUnsafe);
        Assert.Equal("/ops-crud", created.Path);
        Assert.Equal(0, created.Stat.Version);
        Assert.Equal(3, created.Stat.DataLength);

        var read = await zk.GetDataAsync("/ops-crud");
        Assert.Equal("one", Encoding.UTF8.GetString(read.Data));
        Assert.Equal(created.Stat.Czxid, read.Stat.Czxid);

        var set = await zk.SetDataAsync("/ops-crud", Bytes("two"), version: 0);
        Assert.Equal(1, set.Version);
        await Fails(ErrorCode.BadVersion, () => zk.SetDataAsync("/ops-crud", Bytes("three"), version: 0));
        await Fails(ErrorCode.BadVersion, () => zk.DeleteAsync("/ops-crud", version: 0));
        await zk.DeleteAsync("/ops-crud", version: 1);
        Assert.Null(await zk.ExistsAsync("/ops-crud"));
    }

    [Fact]
    public async Task Null_and_empty_data_are_both_read_back_as_empty()
    {
        await using var zk = await chroot.ConnectAsync();
        await zk.CreateAsync("/ops-null", null, Acl.OpenUnsafe);
        await zk.CreateAsync("/ops-empty", [], Acl.OpenUnsafe);
        Assert.Empty((await zk.GetDataAsync("/ops-null")).Data);
        Assert.Empty((await zk.GetDataAsync("/ops-empty")).Data);
    }

    [Fact]
    public async Task Error_codes_NoNode_NodeExists_NotEmpty_NoChildrenForEphemerals()
    {
        await using var zk = await chroot.ConnectAsync();
        var missing = await Fails(ErrorCode.NoNode, () => zk.GetDataAsync("/ops-missing"));
        Assert.Equal("/ops-missing", missing.Path);
        await Fails(ErrorCode.NoNode, () => zk.DeleteAsync("/ops-missing"));
        await Fails(ErrorCode.NoNode, () => zk.SetDataAsync("/ops-missing", null));
        await Fails(ErrorCode.NoNode, () => zk.CreateAsync("/ops-missing/child", null, Acl.OpenUnsafe));

        await zk.CreateAsync("/ops-parent", null, Acl.OpenUnsafe);
        await Fails(ErrorCode.NodeExists, () => zk.CreateAsync("/ops-parent", null, Acl.OpenUnsafe));
        await zk.CreateAsync("/ops-parent/child", null, Acl.OpenUnsafe);
        await Fails(ErrorCode.NotEmpty, () => zk.DeleteAsync("/ops-parent"));

        await zk.CreateAsync("/ops-eph", null, Acl.OpenUnsafe, CreateMode.Ephemeral);
        await Fails(ErrorCode.NoChildrenForEphemerals, () => zk.CreateAsync("/ops-eph/child", null, Acl.OpenUnsafe));
    }

    [Fact]
    public async Task Digest_acl_refuses_other_identities_with_NoAuth_and_admits_the_owner()
    {
        await using var owner = await chroot.ConnectAsync();
        await owner.AddDigestAuthAsync("alice", "s3cret");
        IReadOnlyList<Acl> acl = [new(Permissions.All, Id.Digest("alice", "s3cret")), new(Permissions.Read, Id.Anyone)];
        await owner.CreateAsync("/ops-acl", Bytes("guarded"), acl);

        await using var stranger = await chroot.ConnectAsync();
        Assert.Equal("guarded", Encoding.UTF8.GetString((await stranger.GetDataAsync("/ops-acl")).Data));
        await Fails(ErrorCode.NoAuth, () => stranger.SetDataAsync("/ops-acl", Bytes("mine now")));
        await Fails(ErrorCode.NoAuth, () => stranger.CreateAsync("/ops-acl/child", null, Acl.OpenUnsafe));

        await stranger.AddDigestAuthAsync("mallory", "guess");
        await Fails(ErrorCode.NoAuth, () => stranger.SetDataAsync("/ops-acl", Bytes("mine now")));

        var read = await owner.GetAclAsync("/ops-acl");
        Assert.Contains(read.Acl, a => a.Id == Id.Digest("alice", "s3cret") && a.Permissions == Permissions.All);
        await owner.SetDataAsync("/ops-acl", Bytes("still alice"));
        await owner.SetAclAsync("/ops-acl", Acl.OpenUnsafe, read.Stat.Aversion);
        await stranger.SetDataAsync("/ops-acl", Bytes("open now"));
    }

    [Fact]
    public async Task Creator_all_acl_needs_an_authenticated_identity()
    {
        await using var anonymous = await chroot.ConnectAsync();
        await Fails(ErrorCode.InvalidAcl, () => anonymous.CreateAsync("/ops-creator", null, Acl.CreatorAll));
        await anonymous.AddDigestAuthAsync("bob", "secret");
        await anonymous.CreateAsync("/ops-creator", null, Acl.CreatorAll);
        var acl = (await anonymous.GetAclAsync("/ops-creator")).Acl;
        Assert.Equal([new Acl(Permissions.All, Id.Digest("bob", "secret"))], acl);
    }

    [Fact]
    public async Task Sequential_names_under_one_parent_strictly_increase_and_are_ten_digits()
    {
        await using var zk = await chroot.ConnectAsync();
        await zk.CreateAsync("/ops-seq", null, Acl.OpenUnsafe);
        var sequences = new List<long>();
        for (var i = 0; i < 20; i++)
        {
            var mode = i % 2 == 0 ? CreateMode.EphemeralSequential : CreateMode.PersistentSequential;
            var created = await zk.CreateAsync("/ops-seq/n-", null, Acl.OpenUnsafe, mode);
            var suffix = created.Path["/ops-seq/n-".Length..];
            Assert.Equal(10, suffix.Length);
            sequences.Add(long.Parse(suffix, System.Globalization.CultureInfo.InvariantCulture));
            if (i % 5 == 4)
            {
                await zk.DeleteAsync(created.Path); // deletions leave gaps, never reuse
            }
        }

        Assert.Equal(sequences.Order(), sequences);
        Assert.Equal(sequences.Count, sequences.Distinct().Count());
    }

    [Fact]
    public async Task Ephemeral_nodes_belong_to_the_session_and_go_when_it_closes()
    {
        var zk = await chroot.ConnectAsync();
        var created = await zk.CreateAsync("/ops-ephemeral", null, Acl.OpenUnsafe, CreateMode.Ephemeral);
        Assert.Equal(zk.SessionId, created.Stat.EphemeralOwner);
        await zk.CloseAsync();
        await zk.DisposeAsync();
        Assert.Equal(ConnectionState.Closed, zk.State);

        await using var other = await chroot.ConnectAsync();
        Assert.Null(await other.ExistsAsync("/ops-ephemeral"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => zk.ExistsAsync("/"));
    }

    [Fact]
    public async Task Container_nodes_are_created_as_containers()
    {
        await using var zk = await chroot.ConnectAsync();
        var created = await zk.CreateAsync("/ops-container", null, Acl.OpenUnsafe, CreateMode.Container);
        var stat = await zk.ExistsAsync("/ops-container");
        Assert.Equal(created.Stat.Czxid, stat!.Value.Czxid);

        // The server stores containers with the owner Long.MinValue but shows clients 0 (getClientEphemeralOwner).
        Assert.Equal(0, stat.Value.EphemeralOwner);
        await zk.CreateAsync("/ops-container/child", null, Acl.OpenUnsafe);
    }

    [Fact]
    public async Task Multi_applies_all_or_nothing_and_reports_each_op()
    {
        await using var zk = await chroot.ConnectAsync();
        var ok = await zk.MultiAsync([
            Op.Create("/ops-multi", Bytes("a"), Acl.OpenUnsafe),
            Op.Create("/ops-multi/seq-", null, Acl.OpenUnsafe, CreateMode.PersistentSequential),
            Op.SetData("/ops-multi", Bytes("b"), 0),
            Op.Check("/ops-multi", 1),
        ]);
        Assert.Equal("/ops-multi", Assert.IsType<OpResult.Create>(ok[0]).Path);
        Assert.StartsWith("/ops-multi/seq-", Assert.IsType<OpResult.Create>(ok[1]).Path, StringComparison.Ordinal);
        Assert.Equal(1, Assert.IsType<OpResult.SetData>(ok[2]).Stat.Version);
        Assert.IsType<OpResult.Check>(ok[3]);

        var failed = await Assert.ThrowsAsync<MultiOperationException>(() => zk.MultiAsync([
            Op.Create("/ops-multi-new", null, Acl.OpenUnsafe),
            Op.Delete("/ops-multi-missing"),
            Op.SetData("/ops-multi", Bytes("c")),
        ]));
        Assert.Equal(ErrorCode.NoNode, failed.Code);
        Assert.Equal("/ops-multi-missing", failed.Path);
        Assert.Equal([ErrorCode.Ok, ErrorCode.NoNode, ErrorCode.RuntimeInconsistency], failed.Results.Select(r => Assert.IsType<OpResult.Failure>(r).Code));
        Assert.Null(await zk.ExistsAsync("/ops-multi-new"));
        Assert.Equal("b", Encoding.UTF8.GetString((await zk.GetDataAsync("/ops-multi")).Data));

        var badVersion = await Assert.ThrowsAsync<MultiOperationException>(() => zk.MultiAsync([Op.Check("/ops-multi", 0), Op.Delete("/ops-multi/x")]));
        Assert.Equal(ErrorCode.BadVersion, badVersion.Code);
    }

    [Fact]
    public async Task Sync_and_children_with_the_parent_stat()
    {
        await using var zk = await chroot.ConnectAsync();
        await zk.CreateAsync("/ops-kids", null, Acl.OpenUnsafe);
        await zk.CreateAsync("/ops-kids/a", null, Acl.OpenUnsafe);
        await zk.CreateAsync("/ops-kids/b", null, Acl.OpenUnsafe);
        await zk.SyncAsync("/ops-kids");
        var children = await zk.GetChildrenAsync("/ops-kids");
        Assert.Equal(["a", "b"], children.Children.Order());
        Assert.Equal(2, children.Stat.NumChildren);
        Assert.Equal(2, children.Stat.Cversion);
    }

    [Fact]
    public async Task Ensure_path_and_delete_recursive()
    {
        await using var zk = await chroot.ConnectAsync();
        await zk.EnsurePathAsync("/ops-tree/a/b/c");
        await zk.EnsurePathAsync("/ops-tree/a/b/c");
        await zk.CreateAsync("/ops-tree/a/x", null, Acl.OpenUnsafe, CreateMode.Ephemeral);
        await zk.DeleteRecursiveAsync("/ops-tree");
        Assert.Null(await zk.ExistsAsync("/ops-tree"));
    }

    [Fact]
    public async Task Invalid_paths_and_options_are_argument_errors_before_anything_is_sent()
    {
        await using var zk = await chroot.ConnectAsync();
        await Assert.ThrowsAsync<ArgumentException>(() => zk.GetDataAsync("no-slash"));
        await Assert.ThrowsAsync<ArgumentException>(() => zk.CreateAsync("/a//b", null, Acl.OpenUnsafe));
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions { ConnectString = "" }));
        Assert.Contains("ConnectString", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions { ConnectString = "127.0.0.1:2181", SessionTimeout = TimeSpan.Zero }));
    }

    [Fact]
    public async Task An_unreachable_ensemble_fails_the_connect_with_a_message_naming_the_setting()
    {
        var ex = await Assert.ThrowsAsync<KeeperException>(() => ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = "127.0.0.1:1",
            SessionTimeout = TimeSpan.FromSeconds(2),
        }));
        Assert.Contains("ConnectString", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_negotiated_session_timeout_is_within_the_server_bounds()
    {
        await using var zk = await ZooKeeperClient.ConnectAsync(chroot.Options(TimeSpan.FromMilliseconds(1)));
        Assert.True(zk.SessionTimeout > TimeSpan.FromMilliseconds(1), $"the server raises a too-short timeout to its minimum, got {zk.SessionTimeout}");
        Assert.NotEqual(0, zk.SessionId);
        Assert.Equal(ConnectionState.Connected, zk.State);
    }

    [Fact]
    public async Task Cancellation_ends_the_wait_without_breaking_the_connection()
    {
        await using var zk = await chroot.ConnectAsync();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => zk.GetDataAsync("/", null, cts.Token));
        Assert.NotNull(await zk.ExistsAsync("/"));
    }
}
