using System.Text;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Interop;

/// <summary>Names are encoded (UTF-8) and validated the same by our client and the official Java client.</summary>
public sealed class PathInteropTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    [Fact]
    public async Task Non_ascii_names_and_text_are_encoded_the_same_by_both_clients()
    {
        const string Name = "ünïcødé-日本-€";
        var text = Encoding.UTF8.GetBytes("Grüße, 世界 🚀");
        await using var ours = await chroot.ConnectAsync();
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);
        await ours.CreateAsync("/text", null, Acl.OpenUnsafe);

        Assert.Equal("/text/ours-" + Name, (await ours.CreateAsync("/text/ours-" + Name, text, Acl.OpenUnsafe)).Path);
        Assert.Equal("/text/java-" + Name, await java.CreateAsync("/text/java-" + Name, text));

        Assert.Equal(text, (await java.GetDataAsync("/text/ours-" + Name)).Data);
        Assert.Equal(text, (await ours.GetDataAsync("/text/java-" + Name)).Data);
        string[] expected = ["java-" + Name, "ours-" + Name];
        Assert.Equal(expected, await java.GetChildrenAsync("/text"));
        Assert.Equal(expected, (await ours.GetChildrenAsync("/text")).Children.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Both_clients_accept_and_refuse_the_same_paths()
    {
        string[] paths =
        [
            "/plain", "/a.b", "/..a", "/a/.b", "/ünï-日本-€", "/\u00A0", "/\uFFEF", // valid
            "", "a", "/a/", "/a//b", "/a/./b", "/a/../b", "/.", "/..", // malformed
            "/emoji-😀", "/a\u0000b", "/\u0001", "/\u001F", "/\u007F", "/\u009F", "/\uE000", "/\uF8FF", "/\uFFF0", "/\uFFFF", // invalid characters
        ];
        await using var ours = await chroot.ConnectAsync();
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);

        var mismatches = new List<string>();
        foreach (var path in paths)
        {
            var oursRefuses = await RefusesAsync(() => ours.ExistsAsync(path));
            var javaRefuses = await RefusesAsync(() => java.ExistsAsync(path));
            if (oursRefuses != javaRefuses)
            {
                var shown = string.Concat(path.Select(c => c is >= ' ' and < '\u007F' ? c.ToString() : $"\\u{(int)c:X4}"));
                mismatches.Add($"'{shown}': ours {(oursRefuses ? "refuses" : "accepts")}, Java {(javaRefuses ? "refuses" : "accepts")}");
            }
        }

        Assert.True(mismatches.Count == 0, "path validation differs:\n" + string.Join('\n', mismatches));
    }

    private static async Task<bool> RefusesAsync(Func<Task> exists)
    {
        try
        {
            await exists();
            return false;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }
}
