using System.Text;
using Pipeline.ZooKeeper.Protocol;
using static Pipeline.ZooKeeper.Tests.Protocol.JuteTestKit;

namespace Pipeline.ZooKeeper.Tests.Protocol;

/// <summary>
/// Every <see cref="IRequestRecord"/>: request records have no decoder, so each is written and then decoded field by field
/// here, asserting the exact layout and opcode of the fact sheet (§4, §5).
/// </summary>
public sealed partial class RecordRoundTripTests
{
    [Theory]
    [InlineData(CreateMode.Persistent, 0)]
    [InlineData(CreateMode.Ephemeral, 1)]
    [InlineData(CreateMode.PersistentSequential, 2)]
    [InlineData(CreateMode.EphemeralSequential, 3)]
    [InlineData(CreateMode.Container, 4)]
    public void Create_request_is_path_data_acl_flags(CreateMode mode, int flags)
    {
        var data = Encoding.UTF8.GetBytes("payload");
        var request = new CreateRequest("/app/node-", data, MixedAcl, mode);
        Assert.Equal(OpCode.Create2, request.OpCode);

        var reader = new JuteReader(Encode(request));
        Assert.Equal("/app/node-", reader.ReadString());
        Assert.Equal(data, reader.ReadBuffer());
        Assert.Equal(MixedAcl, ReadAclByHand(ref reader));
        Assert.Equal(flags, reader.ReadInt());
        Assert.Equal(0, reader.Remaining);
    }

    [Theory]
    [InlineData(OpCode.Create, 1)]
    [InlineData(OpCode.Create2, 15)]
    [InlineData(OpCode.CreateContainer, 19)]
    public void Create_request_carries_the_opcode_it_is_sent_with(OpCode opCode, int value)
    {
        var request = new CreateRequest("/c", null, Acl.OpenUnsafe, CreateMode.Persistent, opCode);
        Assert.Equal(value, (int)request.OpCode);
    }

    [Fact]
    public void Create_request_keeps_null_and_empty_data_apart()
    {
        var nullData = Encode(new CreateRequest("/n", null, Acl.OpenUnsafe, CreateMode.Persistent));
        var emptyData = Encode(new CreateRequest("/n", [], Acl.OpenUnsafe, CreateMode.Persistent));

        Assert.Equal("00000002" + "2F6E" + "FFFFFFFF", Convert.ToHexString(nullData.AsSpan(0, 10)));
        Assert.Equal("00000002" + "2F6E" + "00000000", Convert.ToHexString(emptyData.AsSpan(0, 10)));
        Assert.Equal(nullData.Length, emptyData.Length);
    }

    [Fact]
    public void Create_request_golden_bytes()
    {
        var bytes = Encode(new CreateRequest("/a", [0x78], Acl.OpenUnsafe, CreateMode.EphemeralSequential));
        Assert.Equal(
            "00000002" + "2F61" + "00000001" + "78"
            + "00000001" + "0000001F" + "00000005776F726C64" + "00000006616E796F6E65" + "00000003",
            Convert.ToHexString(bytes));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(int.MaxValue)]
    public void Delete_request_is_path_version(int version)
    {
        var request = new DeleteRequest("/a/b", version);
        Assert.Equal(OpCode.Delete, request.OpCode);

        var reader = new JuteReader(Encode(request));
        Assert.Equal("/a/b", reader.ReadString());
        Assert.Equal(version, reader.ReadInt());
        Assert.Equal(0, reader.Remaining);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Exists_get_data_and_get_children2_requests_are_path_watch(bool watch)
    {
        (IRequestRecord Record, OpCode OpCode)[] requests =
        [
            (new ExistsRequest("/x/y", watch), OpCode.Exists),
            (new GetDataRequest("/x/y", watch), OpCode.GetData),
            (new GetChildren2Request("/x/y", watch), OpCode.GetChildren2),
        ];

        foreach (var (record, opCode) in requests)
        {
            Assert.Equal(opCode, record.OpCode);
            var bytes = Encode(record);
            var reader = new JuteReader(bytes);
            Assert.Equal("/x/y", reader.ReadString());
            Assert.Equal(watch ? 1 : 0, reader.ReadByte());
            Assert.Equal(0, reader.Remaining);
            Assert.Equal(4 + 4 + 1, bytes.Length);
        }
    }

    [Fact]
    public void Set_data_request_is_path_data_version()
    {
        var data = new byte[] { 0, 1, 2, 0xFF };
        var request = new SetDataRequest("/s", data, 12);
        Assert.Equal(OpCode.SetData, request.OpCode);

        var reader = new JuteReader(Encode(request));
        Assert.Equal("/s", reader.ReadString());
        Assert.Equal(data, reader.ReadBuffer());
        Assert.Equal(12, reader.ReadInt());
        Assert.Equal(0, reader.Remaining);

        var nullData = new JuteReader(Encode(new SetDataRequest("/s", null, -1)));
        Assert.Equal("/s", nullData.ReadString());
        Assert.Null(nullData.ReadBuffer());
        Assert.Equal(-1, nullData.ReadInt());
        Assert.Equal(0, nullData.Remaining);
    }

    [Fact]
    public void Get_acl_and_sync_requests_are_just_the_path()
    {
        (IRequestRecord Record, OpCode OpCode)[] requests =
        [
            (new GetAclRequest("/acl"), OpCode.GetAcl),
            (new SyncRequest("/acl"), OpCode.Sync),
        ];

        foreach (var (record, opCode) in requests)
        {
            Assert.Equal(opCode, record.OpCode);
            Assert.Equal("00000004" + "2F61636C", Convert.ToHexString(Encode(record)));
        }
    }

    [Fact]
    public void Set_acl_request_is_path_acl_version()
    {
        var request = new SetAclRequest("/secured", MixedAcl, 2);
        Assert.Equal(OpCode.SetAcl, request.OpCode);

        var reader = new JuteReader(Encode(request));
        Assert.Equal("/secured", reader.ReadString());
        Assert.Equal(MixedAcl, ReadAclByHand(ref reader));
        Assert.Equal(2, reader.ReadInt());
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void Check_version_request_is_path_version()
    {
        var request = new CheckVersionRequest("/c", 9);
        Assert.Equal(OpCode.Check, request.OpCode);
        Assert.Equal("00000002" + "2F63" + "00000009", Convert.ToHexString(Encode(request)));
    }

    [Fact]
    public void Multi_request_puts_each_op_behind_a_header_and_ends_with_the_terminator()
    {
        var request = new MultiRequest(
        [
            new CreateRequest("/m/a", [1], Acl.OpenUnsafe, CreateMode.Persistent),
            new CreateRequest("/m/box", null, Acl.OpenUnsafe, CreateMode.Container, OpCode.CreateContainer),
            new DeleteRequest("/m/b", 3),
            new SetDataRequest("/m/c", [2, 3], -1),
            new CheckVersionRequest("/m/d", 5),
        ]);
        Assert.Equal(OpCode.Multi, request.OpCode);

        var reader = new JuteReader(Encode(request));

        Assert.Equal(new MultiHeader(OpCode.Create2, false, (ErrorCode)(-1)), MultiHeader.Read(ref reader));
        Assert.Equal("/m/a", reader.ReadString());
        Assert.Equal([1], reader.ReadBuffer());
        Assert.Equal(Acl.OpenUnsafe, ReadAclByHand(ref reader));
        Assert.Equal(0, reader.ReadInt());

        Assert.Equal(new MultiHeader(OpCode.CreateContainer, false, (ErrorCode)(-1)), MultiHeader.Read(ref reader));
        Assert.Equal("/m/box", reader.ReadString());
        Assert.Null(reader.ReadBuffer());
        Assert.Equal(Acl.OpenUnsafe, ReadAclByHand(ref reader));
        Assert.Equal(4, reader.ReadInt());

        Assert.Equal(new MultiHeader(OpCode.Delete, false, (ErrorCode)(-1)), MultiHeader.Read(ref reader));
        Assert.Equal("/m/b", reader.ReadString());
        Assert.Equal(3, reader.ReadInt());

        Assert.Equal(new MultiHeader(OpCode.SetData, false, (ErrorCode)(-1)), MultiHeader.Read(ref reader));
        Assert.Equal("/m/c", reader.ReadString());
        Assert.Equal([2, 3], reader.ReadBuffer());
        Assert.Equal(-1, reader.ReadInt());

        Assert.Equal(new MultiHeader(OpCode.Check, false, (ErrorCode)(-1)), MultiHeader.Read(ref reader));
        Assert.Equal("/m/d", reader.ReadString());
        Assert.Equal(5, reader.ReadInt());

        Assert.Equal(new MultiHeader(OpCode.Error, true, (ErrorCode)(-1)), MultiHeader.Read(ref reader));
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void Empty_multi_request_is_just_the_terminator()
    {
        Assert.Equal("FFFFFFFF" + "01" + "FFFFFFFF", Convert.ToHexString(Encode(new MultiRequest([]))));
    }

    [Fact]
    public void Auth_packet_is_type_zero_scheme_auth()
    {
        var auth = Encoding.UTF8.GetBytes("bob:secret");
        var request = new AuthPacket("digest", auth);
        Assert.Equal(OpCode.Auth, request.OpCode);
        Assert.Equal(100, (int)request.OpCode);

        var bytes = Encode(request);
        Assert.Equal("00000000" + "00000006" + "646967657374" + "0000000A" + Convert.ToHexString(auth), Convert.ToHexString(bytes));
        var reader = new JuteReader(bytes);
        Assert.Equal(0, reader.ReadInt());
        Assert.Equal("digest", reader.ReadString());
        Assert.Equal(auth, reader.ReadBuffer());
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void Set_watches_request_is_relative_zxid_then_data_exist_child_vectors()
    {
        var request = new SetWatchesRequest(0x0000_0005_0000_0010, ["/d1", "/d2"], [], ["/c1", "/ü"]);
        Assert.Equal(OpCode.SetWatches, request.OpCode);
        Assert.Equal(101, (int)request.OpCode);

        var reader = new JuteReader(Encode(request));
        Assert.Equal(0x0000_0005_0000_0010, reader.ReadLong());
        Assert.Equal(["/d1", "/d2"], reader.ReadStringVector());
        Assert.Equal([], reader.ReadStringVector());
        Assert.Equal(["/c1", "/ü"], reader.ReadStringVector());
        Assert.Equal(0, reader.Remaining);
    }

    [Theory]
    [InlineData(OpCode.Ping, 11)]
    [InlineData(OpCode.CloseSession, -11)]
    public void Ping_and_close_session_have_no_body(OpCode opCode, int value)
    {
        var request = opCode == OpCode.Ping ? EmptyRequest.Ping : EmptyRequest.CloseSession;
        Assert.Equal(opCode, request.OpCode);
        Assert.Equal(value, (int)request.OpCode);
        Assert.Empty(Encode(request));
    }
}
