using System.Globalization;
using System.Text;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Interop;

/// <summary>Data, Stats, sequence numbers and multis written by one client are read the same by the official Java client, and the reverse.</summary>
public sealed class DataInteropTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    public static TheoryData<string> Payloads => ["every-byte", "empty", "100KB"];

    [Theory]
    [MemberData(nameof(Payloads))]
    public async Task Data_written_by_ours_is_read_byte_identical_by_java(string payload)
    {
        var data = Payload(payload);
        var path = "/ours-" + payload;
        await using var ours = await chroot.ConnectAsync();
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);

        var created = await ours.CreateAsync(path, data, Acl.OpenUnsafe);
        var seen = await java.GetDataAsync(path);

        Assert.Equal(data, seen.Data);
        Assert.Equal(created.Stat, seen.Stat);
        Assert.Equal(data.Length, seen.Stat.DataLength);

        var changed = Payload(payload).Reverse().Append((byte)0).ToArray();
        var stat = await ours.SetDataAsync(path, changed);
        seen = await java.GetDataAsync(path);
        Assert.Equal(changed, seen.Data);
        Assert.Equal(stat, seen.Stat);
    }

    [Theory]
    [MemberData(nameof(Payloads))]
    public async Task Data_written_by_java_is_read_byte_identical_by_ours(string payload)
    {
        var data = Payload(payload);
        var path = "/java-" + payload;
        await using var ours = await chroot.ConnectAsync();
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);

        Assert.Equal(path, await java.CreateAsync(path, data));
        var read = await ours.GetDataAsync(path);
        Assert.Equal(data, read.Data);
        Assert.Equal((await java.GetDataAsync(path)).Stat, read.Stat);

        var changed = Payload(payload).Reverse().Append((byte)0).ToArray();
        var stat = await java.SetDataAsync(path, changed);
        read = await ours.GetDataAsync(path);
        Assert.Equal(changed, read.Data);
        Assert.Equal(stat, read.Stat);
    }

    [Fact]
    public async Task Null_data_means_the_same_to_both_clients()
    {
        await using var ours = await chroot.ConnectAsync();
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);

        await ours.CreateAsync("/null-by-ours", null, Acl.OpenUnsafe);
        await java.CreateAsync("/null-by-java", null);

        var javaViewOfOurs = await java.GetDataAsync("/null-by-ours");
        var javaViewOfJava = await java.GetDataAsync("/null-by-java");
        Assert.Equal(javaViewOfJava.Data, javaViewOfOurs.Data);
        Assert.Equal(0, javaViewOfOurs.Stat.DataLength);
        Assert.Equal((await ours.GetDataAsync("/null-by-ours")).Data, (await ours.GetDataAsync("/null-by-java")).Data);
    }

    [Fact]
    public async Task Sequential_nodes_created_alternately_by_both_clients_get_strictly_increasing_ten_digit_suffixes()
    {
        await using var ours = await chroot.ConnectAsync();
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);
        await ours.CreateAsync("/seq", null, Acl.OpenUnsafe);

        var paths = new List<string>();
        for (var round = 0; round < 4; round++)
        {
            paths.Add((await ours.CreateAsync("/seq/n-", [1], Acl.OpenUnsafe, CreateMode.PersistentSequential)).Path);
            paths.Add(await java.CreateAsync("/seq/n-", [2], CreateMode.PersistentSequential));
            paths.Add((await ours.CreateAsync("/seq/e-", [3], Acl.OpenUnsafe, CreateMode.EphemeralSequential)).Path);
            paths.Add(await java.CreateAsync("/seq/e-", [4], CreateMode.EphemeralSequential));
        }

        Assert.All(paths, p => Assert.Matches(@"^/seq/[ne]-[0-9]{10}$", p));
        var sequence = paths.Select(p => long.Parse(p[^10..], CultureInfo.InvariantCulture)).ToList();
        for (var i = 1; i < sequence.Count; i++)
        {
            Assert.True(sequence[i] > sequence[i - 1], $"suffixes not strictly increasing: {string.Join(", ", paths)}");
        }

        var names = paths.Select(p => p["/seq/".Length..]).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(names, await java.GetChildrenAsync("/seq"));
        Assert.Equal(names, (await ours.GetChildrenAsync("/seq")).Children.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_multi_by_ours_is_seen_by_java_as_one_transaction_and_a_failed_one_not_at_all()
    {
        await using var ours = await chroot.ConnectAsync();
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);

        var results = await ours.MultiAsync(
        [
            Op.Create("/multi", null, Acl.OpenUnsafe),
            Op.Create("/multi/a", Encoding.UTF8.GetBytes("A"), Acl.OpenUnsafe),
            Op.Create("/multi/b", [0, 0xFF, 0], Acl.OpenUnsafe),
            Op.Create("/multi/s-", [5], Acl.OpenUnsafe, CreateMode.PersistentSequential),
            Op.SetData("/multi", Encoding.UTF8.GetBytes("done")),
        ]);
        Assert.Equal(5, results.Count);
        var sequential = Assert.IsType<OpResult.Create>(results[3]);
        Assert.Matches(@"^/multi/s-[0-9]{10}$", sequential.Path);

        var parent = await java.GetDataAsync("/multi");
        var a = await java.GetDataAsync("/multi/a");
        var b = await java.GetDataAsync("/multi/b");
        var s = await java.GetDataAsync(sequential.Path);
        Assert.Equal("done"u8.ToArray(), parent.Data);
        Assert.Equal("A"u8.ToArray(), a.Data);
        Assert.Equal(new byte[] { 0, 0xFF, 0 }, b.Data);
        Assert.Equal(new byte[] { 5 }, s.Data);
        // A create inside a multi is answered as a plain create (no Stat) by 3.8 servers; where there is a Stat it must match.
        var created = Assert.IsType<OpResult.Create>(results[1]);
        Assert.Equal("/multi/a", created.Path);
        Assert.True(created.Stat is null || created.Stat == a.Stat, $"multi create Stat {created.Stat} differs from Java's {a.Stat}");
        Assert.Equal(new OpResult.SetData(parent.Stat), results[4]);
        Assert.True(
            new[] { a.Stat.Czxid, b.Stat.Czxid, s.Stat.Czxid, parent.Stat.Mzxid }.All(zxid => zxid == parent.Stat.Czxid),
            $"one transaction has one zxid: /multi czxid {parent.Stat.Czxid} mzxid {parent.Stat.Mzxid}, a {a.Stat.Czxid}, b {b.Stat.Czxid}, s {s.Stat.Czxid}");

        var failed = await Assert.ThrowsAsync<MultiOperationException>(() => ours.MultiAsync(
        [
            Op.Create("/multi/c", [1], Acl.OpenUnsafe),
            Op.SetData("/multi/a", [2]),
            Op.Create("/multi/b", [3], Acl.OpenUnsafe),
        ]));
        Assert.Equal(ErrorCode.NodeExists, failed.Code);
        Assert.Null(await java.ExistsAsync("/multi/c"));
        Assert.Equal("A"u8.ToArray(), (await java.GetDataAsync("/multi/a")).Data);
        Assert.Equal(new[] { "a", "b", sequential.Path["/multi/".Length..] }, await java.GetChildrenAsync("/multi"));
    }

    private static byte[] Payload(string name) => name switch
    {
        // Zeros at both ends and inside, and every byte value, UTF-8-invalid sequences included.
        "every-byte" => [0, 0, .. Enumerable.Range(0, 256).Select(i => (byte)i), 0, 0xC3, 0x28, 0xFF, 0],
        "empty" => [],
        "100KB" => RandomBytes(100 * 1024),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown payload"),
    };

    private static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
#pragma warning disable CA5394 // Reproducible test data, not security.
        new Random(20240611).NextBytes(bytes);
#pragma warning restore CA5394
        return bytes;
    }
}
