using System.Text;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.Testing.Tests;

/// <summary>The per-class chroot isolates: what one class creates another does not see, and the fixture removes it all.</summary>
public sealed class ChrootFixtureTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    [Fact]
    public async Task Nodes_created_in_the_chroot_live_under_it_on_the_server_and_another_chroot_does_not_see_them()
    {
        await using var client = await chroot.ConnectAsync();
        var created = await client.CreateAsync("/mine", Encoding.UTF8.GetBytes("x"), Acl.OpenUnsafe);
        Assert.Equal("/mine", created.Path);

        await using var root = await ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions { ConnectString = chroot.Servers });
        Assert.NotNull(await root.ExistsAsync(chroot.Path + "/mine"));

        var other = new ZooKeeperChroot();
        await other.InitializeAsync();
        try
        {
            await using var theirs = await other.ConnectAsync();
            Assert.Null(await theirs.ExistsAsync("/mine"));
            Assert.Empty((await theirs.GetChildrenAsync("/")).Children);
        }
        finally
        {
            await other.DisposeAsync();
        }

        Assert.Null(await root.ExistsAsync(other.Path));
    }
}
