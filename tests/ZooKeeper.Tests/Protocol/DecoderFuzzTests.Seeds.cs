using Pipeline.ZooKeeper.Protocol;
using static Pipeline.ZooKeeper.Tests.Protocol.JuteTestKit;

namespace Pipeline.ZooKeeper.Tests.Protocol;

/// <summary>The valid encodings the fuzzer mutates: at least one per decoder, with and without reply headers.</summary>
public sealed partial class DecoderFuzzTests
{
    private static byte[][] Seeds()
    {
        var stat = SampleStat(11);
        var bigData = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
        var manyChildren = Enumerable.Range(0, 40).Select(i => $"child-{i:D10}").ToArray();
        var seeds = new List<byte[]>
        {
            Array.Empty<byte>(),
            Encode((ref w) => w.WriteString("/app/lock-0000000001")),
            Encode((ref w) => w.WriteString("/ü/日本")),
            Encode((ref w) => w.WriteString("")),
            Encode((ref w) =>
            {
                w.WriteString("/q/0000000042");
                stat.Write(ref w);
            }),
            Encode((ref w) => stat.Write(ref w)),
            Encode((ref w) =>
            {
                w.WriteBuffer(bigData);
                stat.Write(ref w);
            }),
            Encode((ref w) =>
            {
                w.WriteBuffer([]);
                stat.Write(ref w);
            }),
            Encode((ref w) =>
            {
                w.WriteBuffer(null);
                stat.Write(ref w);
            }),
            Encode((ref w) =>
            {
                w.WriteStringVector(["a", "b", "ü"]);
                stat.Write(ref w);
            }),
            Encode((ref w) =>
            {
                w.WriteStringVector(manyChildren);
                stat.Write(ref w);
            }),
            Encode((ref w) =>
            {
                Acl.WriteVector(ref w, MixedAcl);
                stat.Write(ref w);
            }),
            Encode((ref w) =>
            {
                Acl.WriteVector(ref w, Acl.OpenUnsafe);
                stat.Write(ref w);
            }),
            MultiOk(stat),
            MultiFailed(),
            Encode((ref w) => MultiHeader.End.Write(ref w)),
            Encode((ref w) => new ConnectResponse(0, 4_000, 0x0100_0000_0000_0042, new byte[16], true).Write(ref w)),
            Convert.FromHexString("00000000" + "00000FA0" + "0100000000000042" + "00000010" + "0102030405060708090A0B0C0D0E0F10"),
            Encode((ref w) =>
            {
                new ReplyHeader(Xids.Notification, -1, ErrorCode.Ok).Write(ref w);
                new WatcherEventRecord(3, 3, "/watched/node").Write(ref w);
            }),
            Encode((ref w) =>
            {
                new ReplyHeader(Xids.Notification, -1, ErrorCode.Ok).Write(ref w);
                new WatcherEventRecord(-1, -112, null).Write(ref w);
            }),
            Encode((ref w) =>
            {
                new ReplyHeader(5, 0x0000_0001_0000_0009, ErrorCode.Ok).Write(ref w);
                w.WriteBuffer([1, 2, 3]);
                stat.Write(ref w);
            }),
        };

        var multi = MultiOk(stat);
        seeds.Add(Encode((ref w) =>
        {
            new ReplyHeader(6, 0x0000_0001_0000_000A, ErrorCode.Ok).Write(ref w);
            foreach (var b in multi)
            {
                w.WriteByte(b);
            }
        }));

        return [.. seeds];
    }

    private static byte[] MultiOk(Stat stat) => Encode((ref w) =>
    {
        new MultiHeader(OpCode.Create, false, ErrorCode.Ok).Write(ref w);
        w.WriteString("/m/a");
        new MultiHeader(OpCode.Create2, false, ErrorCode.Ok).Write(ref w);
        w.WriteString("/m/b0000000001");
        stat.Write(ref w);
        new MultiHeader(OpCode.Delete, false, ErrorCode.Ok).Write(ref w);
        new MultiHeader(OpCode.Check, false, ErrorCode.Ok).Write(ref w);
        new MultiHeader(OpCode.SetData, false, ErrorCode.Ok).Write(ref w);
        stat.Write(ref w);
        MultiHeader.End.Write(ref w);
    });

    private static byte[] MultiFailed() => Encode((ref w) =>
    {
        foreach (var code in new[] { ErrorCode.Ok, ErrorCode.NoNode, ErrorCode.RuntimeInconsistency })
        {
            new MultiHeader(OpCode.Error, false, code).Write(ref w);
            w.WriteInt((int)code);
        }

        MultiHeader.End.Write(ref w);
    });
}
