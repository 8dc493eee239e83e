using System.Buffers;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Protocol;

/// <summary>Writes some fields with a <see cref="JuteWriter"/>.</summary>
internal delegate void JuteWrite(ref JuteWriter writer);

/// <summary>Reads a value with a <see cref="JuteReader"/>.</summary>
internal delegate T JuteRead<out T>(ref JuteReader reader);

/// <summary>Encoding and decoding helpers shared by the protocol tests.</summary>
internal static class JuteTestKit
{
    public static byte[] Encode(JuteWrite write)
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new JuteWriter(output);
        write(ref writer);
        return output.WrittenSpan.ToArray();
    }

    public static byte[] Encode(IRequestRecord record) => Encode((ref w) => record.Write(ref w));

    /// <summary>Decodes a response body with its own decoder (which checks it consumed the whole body).</summary>
    public static T Decode<T>(byte[] body)
        where T : IResponseRecord<T>
    {
        var reader = new JuteReader(body);
        return T.Read(ref reader);
    }

    /// <summary>Decodes with <paramref name="read"/> and asserts every byte was consumed.</summary>
    public static T Decode<T>(byte[] bytes, JuteRead<T> read)
    {
        var reader = new JuteReader(bytes);
        var value = read(ref reader);
        Assert.Equal(0, reader.Remaining);
        return value;
    }

    /// <summary>A Stat whose every field differs, so a swapped field shows.</summary>
    public static Stat SampleStat(int seed = 0) => new(
        Czxid: 0x0000_0001_0000_0001L + seed,
        Mzxid: 0x0000_0001_0000_0002L + seed,
        Ctime: 1_700_000_000_000L + seed,
        Mtime: 1_700_000_000_500L + seed,
        Version: 3 + seed,
        Cversion: 4 + seed,
        Aversion: 5 + seed,
        EphemeralOwner: 0x0123_4567_89AB_CDEFL + seed,
        DataLength: 6 + seed,
        NumChildren: 7 + seed,
        Pzxid: 0x0000_0001_0000_0003L + seed);

    public static readonly IReadOnlyList<Acl> MixedAcl =
    [
        new(Permissions.All, Id.Anyone),
        new(Permissions.Read | Permissions.Admin, Id.Digest("bob", "secret")),
        new(Permissions.Create | Permissions.Delete, Id.Creator),
        new(Permissions.Write, new Id("ip", "10.0.0.0/8")),
    ];

    /// <summary>Reads an ACL vector field by field (count, then perms, scheme, id per entry), not with Acl.ReadVector.</summary>
    public static List<Acl> ReadAclByHand(ref JuteReader reader)
    {
        var count = reader.ReadInt();
        var list = new List<Acl>();
        for (var i = 0; i < count; i++)
        {
            var perms = (Permissions)reader.ReadInt();
            var scheme = reader.ReadString();
            var id = reader.ReadString();
            Assert.NotNull(scheme);
            Assert.NotNull(id);
            list.Add(new Acl(perms, new Id(scheme, id)));
        }

        return list;
    }
}
