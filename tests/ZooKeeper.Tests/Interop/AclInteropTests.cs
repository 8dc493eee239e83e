using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Interop;

/// <summary>Digest ACLs and digest auth mean the same to our client and the official Java client.</summary>
public sealed class AclInteropTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    [Fact]
    public async Task A_digest_acl_set_by_ours_is_read_and_enforced_the_same_for_java()
    {
        await using var ours = await chroot.ConnectAsync();
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);
        IReadOnlyList<Acl> acl = [new(Permissions.All, Id.Digest("alice", "s3cret:with colon")), new(Permissions.Read, Id.Anyone)];

        await ours.CreateAsync("/by-ours", "v1"u8.ToArray(), acl);

        // Without ADMIN on the node the server redacts digests to "user:x" (ZOOKEEPER-1392), for either client alike.
        IReadOnlyList<Acl> redacted = [new(Permissions.All, new Id("digest", "alice:x")), new(Permissions.Read, Id.Anyone)];
        Assert.Equal(redacted, await java.GetAclAsync("/by-ours"));
        await using (var anonymous = await chroot.ConnectAsync())
        {
            Assert.Equal(redacted, (await anonymous.GetAclAsync("/by-ours")).Acl);
        }

        Assert.Equal("v1"u8.ToArray(), (await java.GetDataAsync("/by-ours")).Data);
        var denied = await Assert.ThrowsAsync<KeeperException>(() => java.SetDataAsync("/by-ours", "java"u8.ToArray()));
        Assert.Equal(ErrorCode.NoAuth, denied.Code);

        await using var wrong = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);
        await wrong.AddDigestAuthAsync("alice", "s3cret");
        Assert.Equal(ErrorCode.NoAuth, (await Assert.ThrowsAsync<KeeperException>(() => wrong.SetDataAsync("/by-ours", [1]))).Code);

        await java.AddDigestAuthAsync("alice", "s3cret:with colon");
        Assert.Equal(acl, await java.GetAclAsync("/by-ours"));
        var stat = await java.SetDataAsync("/by-ours", "java"u8.ToArray());

        var read = await ours.GetDataAsync("/by-ours");
        Assert.Equal("java"u8.ToArray(), read.Data);
        Assert.Equal(stat, read.Stat);
    }

    [Fact]
    public async Task A_creator_acl_set_by_java_after_digest_auth_is_read_and_enforced_the_same_for_ours()
    {
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);
        await using var anonymous = await chroot.ConnectAsync();
        await using var bob = await chroot.ConnectAsync();
        await bob.AddDigestAuthAsync("bob", "pw");
        try
        {
            await java.AddDigestAuthAsync("bob", "pw");
            await java.CreateAsync("/by-java", "secret"u8.ToArray(), CreateMode.Persistent, JavaAcl.Creator);
            await java.CreateAsync("/by-java/child", null, CreateMode.Persistent, JavaAcl.Creator);

            // Without credentials: reading the ACL or the data, writing, deleting a child (DELETE on the parent) are refused.
            foreach (var (what, attempt) in new (string, Func<Task>)[]
            {
                ("GetAcl", () => anonymous.GetAclAsync("/by-java")),
                ("GetData", () => anonymous.GetDataAsync("/by-java")),
                ("SetData", () => anonymous.SetDataAsync("/by-java", [1])),
                ("Delete child", () => anonymous.DeleteAsync("/by-java/child")),
            })
            {
                var denied = await Assert.ThrowsAsync<KeeperException>(attempt);
                Assert.True(denied.Code == ErrorCode.NoAuth, $"{what} without auth: expected NoAuth, got {denied.Code}");
            }

            var acl = await bob.GetAclAsync("/by-java");
            Assert.Equal([new Acl(Permissions.All, Id.Digest("bob", "pw"))], acl.Acl);
            Assert.Equal((await java.GetAclAsync("/by-java")).ToList(), acl.Acl);
            Assert.Equal("secret"u8.ToArray(), (await bob.GetDataAsync("/by-java")).Data);

            await bob.DeleteAsync("/by-java/child");
            await bob.DeleteAsync("/by-java");
            Assert.Null(await java.ExistsAsync("/by-java"));
        }
        finally
        {
            await bob.DeleteRecursiveAsync("/by-java");
        }
    }
}
