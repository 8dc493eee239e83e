using Pipeline.ZooKeeper.Protocol;
using static Pipeline.ZooKeeper.Tests.Protocol.JuteTestKit;

namespace Pipeline.ZooKeeper.Tests.Protocol;

/// <summary>
/// Every response decoder: the body is written field by field with JuteWriter as the server would (responses have no
/// encoder), then read back with the decoder, which must also refuse trailing bytes.
/// </summary>
public sealed partial class RecordRoundTripTests
{
    [Fact]
    public void Empty_response_accepts_only_an_empty_body()
    {
        Assert.Same(EmptyResponse.Instance, Decode<EmptyResponse>([]));
        Assert.Throws<ZooKeeperProtocolException>(() => Decode<EmptyResponse>([0]));
    }

    [Theory]
    [InlineData("/app/lock-0000000007")]
    [InlineData("/")]
    [InlineData("/ü/日本")]
    public void Create_response_round_trips(string path)
    {
        var bytes = Encode((ref w) => w.WriteString(path));
        Assert.Equal(new CreateResponse(path), Decode<CreateResponse>(bytes));
    }

    [Fact]
    public void Create2_response_round_trips()
    {
        var stat = SampleStat(1);
        var bytes = Encode((ref w) =>
        {
            w.WriteString("/q/0000000042");
            stat.Write(ref w);
        });

        Assert.Equal(4 + 13 + Stat.Size, bytes.Length);
        Assert.Equal(new Create2Response("/q/0000000042", stat), Decode<Create2Response>(bytes));
    }

    [Fact]
    public void Stat_response_round_trips()
    {
        var stat = SampleStat(2);
        var bytes = Encode((ref w) => stat.Write(ref w));
        Assert.Equal(new StatResponse(stat), Decode<StatResponse>(bytes));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4096)]
    public void Get_data_response_round_trips(int size)
    {
        var data = Enumerable.Range(0, size).Select(i => (byte)(i * 31)).ToArray();
        var stat = SampleStat(3) with { DataLength = size };
        var bytes = Encode((ref w) =>
        {
            w.WriteBuffer(data);
            stat.Write(ref w);
        });

        var back = Decode<GetDataResponse>(bytes);
        Assert.Equal(data, back.Data);
        Assert.Equal(stat, back.Stat);
    }

    [Fact]
    public void Get_data_response_with_null_data_reads_as_empty()
    {
        var stat = SampleStat(4) with { DataLength = 0 };
        var bytes = Encode((ref w) =>
        {
            w.WriteBuffer(null);
            stat.Write(ref w);
        });

        var back = Decode<GetDataResponse>(bytes);
        Assert.Empty(back.Data);
        Assert.Equal(stat, back.Stat);
    }

    [Fact]
    public void Get_children2_response_round_trips()
    {
        string[] children = ["a", "lock-0000000001", "ü", ""];
        var stat = SampleStat(5) with { NumChildren = children.Length };
        var bytes = Encode((ref w) =>
        {
            w.WriteStringVector(children);
            stat.Write(ref w);
        });

        var back = Decode<GetChildren2Response>(bytes);
        Assert.Equal(children, back.Children);
        Assert.Equal(stat, back.Stat);
    }

    [Fact]
    public void Get_children2_response_with_no_children_and_with_a_null_vector()
    {
        var stat = SampleStat(6) with { NumChildren = 0 };
        var empty = Encode((ref w) =>
        {
            w.WriteStringVector([]);
            stat.Write(ref w);
        });
        var nullVector = Encode((ref w) =>
        {
            w.WriteStringVector(null);
            stat.Write(ref w);
        });

        Assert.Empty(Decode<GetChildren2Response>(empty).Children);
        Assert.Empty(Decode<GetChildren2Response>(nullVector).Children);
        Assert.Equal(stat, Decode<GetChildren2Response>(nullVector).Stat);
    }

    [Fact]
    public void Get_children2_response_refuses_a_null_child_name()
    {
        var stat = SampleStat();
        var bytes = Encode((ref w) =>
        {
            w.WriteInt(1);
            w.WriteString(null);
            stat.Write(ref w);
        });

        Assert.Throws<ZooKeeperProtocolException>(() => Decode<GetChildren2Response>(bytes));
    }

    [Fact]
    public void Get_acl_response_round_trips()
    {
        var stat = SampleStat(7);
        var bytes = Encode((ref w) =>
        {
            Acl.WriteVector(ref w, MixedAcl);
            stat.Write(ref w);
        });

        var back = Decode<GetAclResponse>(bytes);
        Assert.Equal(MixedAcl, back.Acl);
        Assert.Equal(stat, back.Stat);
    }

    [Fact]
    public void Sync_response_round_trips()
    {
        var bytes = Encode((ref w) => w.WriteString("/synced"));
        Assert.Equal(new SyncResponse("/synced"), Decode<SyncResponse>(bytes));
    }

    [Fact]
    public void Responses_refuse_trailing_bytes()
    {
        var stat = SampleStat();
        var path = Encode((ref w) =>
        {
            w.WriteString("/p");
            w.WriteByte(0);
        });
        var statOnly = Encode((ref w) =>
        {
            stat.Write(ref w);
            w.WriteByte(0);
        });

        Assert.Throws<ZooKeeperProtocolException>(() => Decode<CreateResponse>(path));
        Assert.Throws<ZooKeeperProtocolException>(() => Decode<SyncResponse>(path));
        Assert.Throws<ZooKeeperProtocolException>(() => Decode<StatResponse>(statOnly));
    }

    [Fact]
    public void Responses_refuse_a_truncated_stat()
    {
        var stat = SampleStat();
        var bytes = Encode((ref w) => stat.Write(ref w));
        Assert.Throws<ZooKeeperProtocolException>(() => Decode<StatResponse>(bytes[..^1]));
        Assert.Throws<ZooKeeperProtocolException>(() => Decode<StatResponse>([]));
    }

    [Fact]
    public void Multi_response_round_trips_every_result_type()
    {
        var created = SampleStat(8);
        var set = SampleStat(9);
        var bytes = Encode((ref w) =>
        {
            new MultiHeader(OpCode.Create, false, ErrorCode.Ok).Write(ref w);
            w.WriteString("/m/a");
            new MultiHeader(OpCode.Create2, false, ErrorCode.Ok).Write(ref w);
            w.WriteString("/m/seq0000000001");
            created.Write(ref w);
            new MultiHeader(OpCode.Delete, false, ErrorCode.Ok).Write(ref w);
            new MultiHeader(OpCode.Check, false, ErrorCode.Ok).Write(ref w);
            new MultiHeader(OpCode.SetData, false, ErrorCode.Ok).Write(ref w);
            set.Write(ref w);
            MultiHeader.End.Write(ref w);
        });

        var back = Decode<MultiResponse>(bytes);

        Assert.Equal(
            [
                new OpResult.Create("/m/a", null),
                new OpResult.Create("/m/seq0000000001", created),
                new OpResult.Delete(),
                new OpResult.Check(),
                new OpResult.SetData(set),
            ],
            back.Results);
    }

    [Fact]
    public void Multi_response_of_a_failed_transaction_has_every_result_of_type_minus_one()
    {
        // The second of three ops failed with NoNode: the first carries 0, the failing one its code, the rest -2.
        var bytes = Encode((ref w) =>
        {
            foreach (var code in new[] { ErrorCode.Ok, ErrorCode.NoNode, ErrorCode.RuntimeInconsistency })
            {
                new MultiHeader(OpCode.Error, false, code).Write(ref w);
                w.WriteInt((int)code);
            }

            MultiHeader.End.Write(ref w);
        });

        Assert.Equal(3 * (9 + 4) + 9, bytes.Length);
        var back = Decode<MultiResponse>(bytes);

        Assert.Equal(
            [
                new OpResult.Failure(ErrorCode.Ok),
                new OpResult.Failure(ErrorCode.NoNode),
                new OpResult.Failure(ErrorCode.RuntimeInconsistency),
            ],
            back.Results);
        Assert.Equal([0, -101, -2], back.Results.Cast<OpResult.Failure>().Select(f => (int)f.Code));
    }

    [Fact]
    public void Multi_response_with_no_results_is_just_the_terminator()
    {
        var bytes = Encode((ref w) => MultiHeader.End.Write(ref w));
        Assert.Empty(Decode<MultiResponse>(bytes).Results);
    }

    [Fact]
    public void Multi_response_without_a_terminator_or_with_an_unknown_result_type_is_a_protocol_error()
    {
        var unterminated = Encode((ref w) => new MultiHeader(OpCode.Delete, false, ErrorCode.Ok).Write(ref w));
        var unknownType = Encode((ref w) =>
        {
            new MultiHeader(OpCode.Sync, false, ErrorCode.Ok).Write(ref w);
            w.WriteString("/s");
            MultiHeader.End.Write(ref w);
        });
        var afterTerminator = Encode((ref w) =>
        {
            MultiHeader.End.Write(ref w);
            w.WriteInt(0);
        });

        Assert.Throws<ZooKeeperProtocolException>(() => Decode<MultiResponse>(unterminated));
        Assert.Throws<ZooKeeperProtocolException>(() => Decode<MultiResponse>(unknownType));
        Assert.Throws<ZooKeeperProtocolException>(() => Decode<MultiResponse>(afterTerminator));
    }

    [Fact]
    public void A_whole_reply_frame_decodes_header_then_body()
    {
        var stat = SampleStat(10);
        var bytes = Encode((ref w) =>
        {
            new ReplyHeader(17, 0x0000_0003_0000_0001, ErrorCode.Ok).Write(ref w);
            w.WriteBuffer([0x68, 0x69]);
            stat.Write(ref w);
        });

        var reader = new JuteReader(bytes);
        Assert.Equal(new ReplyHeader(17, 0x0000_0003_0000_0001, ErrorCode.Ok), ReplyHeader.Read(ref reader));
        var body = GetDataResponse.Read(ref reader);
        Assert.Equal([0x68, 0x69], body.Data);
        Assert.Equal(stat, body.Stat);
    }
}
