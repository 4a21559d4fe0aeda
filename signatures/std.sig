# Trained by dpi 0.1.0 from 2581 captures against ndpi; support n = training flows matched
# dpi-train: source=trained:ndpi precision=1 tp=31 fp=0
Service: BGP             tcp port 179   n =    31 src = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: BitTorrent      udp port 3222  n =     4 src = "010000010000AABBCC00"
# dpi-train: source=trained:ndpi precision=1 tp=9 fp=0
Service: DCERPC          tcp port 135   n =     9 src = "05000B  10000000"
# dpi-train: source=trained:ndpi precision=1 tp=9 fp=0
Service: DCERPC          tcp port 135   n =     9 src = "0500    10000000"
# dpi-train: source=trained:ndpi precision=1 tp=3 fp=0
Service: DHCPV6          udp port 546   n =     3 src = "                  01000118"
# dpi-train: source=trained:ndpi precision=1 tp=27 fp=0
Service: DNP3            tcp port 20000 n =    27 src = "05    C4    0300"
# dpi-train: source=trained:ndpi precision=1 tp=11 fp=0
Service: DNS             tcp port 53    n =    11 src = "            00010000000000"
# dpi-train: source=trained:ndpi precision=1 tp=1015 fp=0
Service: DNS             udp port 53    n =  1015 src = "    010000010000"
# dpi-train: source=trained:ndpi precision=1 tp=1018 fp=0
Service: DNS             udp port 53    n =  1018 src = "    01000001  00"
# dpi-train: source=trained:ndpi precision=1 tp=42 fp=0
Service: DNS             udp port 53    n =    42 src = "                    00000131"
# dpi-train: source=trained:ndpi precision=1 tp=8 fp=0
Service: Discord         udp port 50004 n =     8 src = "1337CAFE"
# dpi-train: source=trained:ndpi precision=1 tp=47 fp=0
Service: FTP_CONTROL     tcp port 21    n =    47 dst = "323230"
# dpi-train: source=trained:ndpi precision=1 tp=6 fp=0
Service: Gnutella        tcp port 6346  n =     6 src = "474E5554454C4C4120434F4E4E4543542F302E360D0A"
# dpi-train: source=trained:ndpi precision=1 tp=35 fp=0
Service: HSRP            udp port 1985  n =    35 src = "  0010030A"
# dpi-train: source=trained:ndpi precision=1 tp=36 fp=0
Service: HSRP            udp port 1985  n =    36 src = "              00636973636F000000"
# dpi-train: source=trained:ndpi precision=1 tp=28 fp=0
Service: HTTP            tcp port 80    n =    28 dst = "485454502F312E3120            74"
# dpi-train: source=trained:ndpi precision=0.993 tp=141 fp=1
Service: HTTP            tcp port 80    n =   141 dst = "485454502F312E  20323030204F4B0D0A446174653A20"
# dpi-train: source=trained:ndpi precision=1 tp=14 fp=0
Service: HTTP            tcp port 80    n =    14 dst = "485454502F312E  2034  3120"
# dpi-train: source=trained:ndpi precision=1 tp=158 fp=0
Service: HTTP            tcp port 80    n =   158 dst = "        2F312E  203230        0D0A5365727665723A20"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: IMAP            tcp port 143   n =     4 dst = "2A204F4B20"
# dpi-train: source=trained:ndpi precision=1 tp=20 fp=0
Service: LDAP            tcp port 389   n =    20 src = "30  020101"
# dpi-train: source=trained:ndpi precision=1 tp=13 fp=0
Service: LDAP            tcp port 389   n =    13 dst = "30840000"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: LDP             tcp port 646   n =     4 src = "000100          0000020000"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: LDP             udp port 646   n =     4 src = "0001001E"
# dpi-train: source=trained:ndpi precision=1 tp=6 fp=0
Service: LDP             udp port 646   n =     6 src = "000100          0000010000"
# dpi-train: source=trained:ndpi precision=1 tp=7 fp=0
Service: LISP            udp port 4342  n =     7 src = "                        00010014"
# dpi-train: source=trained:ndpi precision=1 tp=101 fp=0
Service: LLMNR           udp port 5355  n =   101 src = "    00000001000000000000"
# dpi-train: source=trained:ndpi precision=1 tp=8 fp=0
Service: MQTT            tcp port 1883  n =     8 src = "        4D51"
# dpi-train: source=trained:ndpi precision=1 tp=15 fp=0
Service: NFS             tcp port 2049  n =    15 src = "800000          0000000000000002000186A300000003000000"
# dpi-train: source=trained:ndpi precision=1 tp=15 fp=0
Service: NFS             tcp port 2049  n =    15 src = "800000          0000000000000002000186"
# dpi-train: source=trained:ndpi precision=1 tp=53 fp=0
Service: NTP             udp port 123   n =    53 src = "  00                            0000000000000000"
# dpi-train: source=trained:ndpi precision=1 tp=32 fp=0
Service: NTP             udp port 123   n =    32 src = "  0206EA00000BD90000"
# dpi-train: source=trained:ndpi precision=1 tp=53 fp=0
Service: NTP             udp port 123   n =    53 src = "        00  00                  000000000000"
# dpi-train: source=trained:ndpi precision=1 tp=55 fp=0
Service: NTP             udp port 123   n =    55 dst = "24      0000    0000"
# dpi-train: source=trained:ndpi precision=1 tp=10 fp=0
Service: Nats            tcp port 6379  n =    10 src = "50494E470D0A"
# dpi-train: source=trained:ndpi precision=1 tp=10 fp=0
Service: NetBIOS         tcp port 445   n =    10 src = "000000  FF534D4272000000001853  000000000000000000000000    FFFE"
# dpi-train: source=trained:ndpi precision=1 tp=21 fp=0
Service: NetBIOS         udp port 138   n =    21 src = "11              008A00"
# dpi-train: source=trained:ndpi precision=1 tp=22 fp=0
Service: NetBIOS         udp port 138   n =    22 src = "11              00  00  0000"
# dpi-train: source=trained:ndpi precision=1 tp=14 fp=0
Service: POP3            tcp port 110   n =    14 dst = "2B4F4B20"
# dpi-train: source=trained:ndpi precision=1 tp=3 fp=0
Service: PPTP            tcp port 1723  n =     3 src = "009C00011A2B3C4D0001000001000000000000"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: PTPv2           udp port 319   n =     4 src = "  0200        0000000000"
# dpi-train: source=trained:ndpi precision=1 tp=13 fp=0
Service: PostgreSQL      tcp port 5432  n =    13 src = "0000000804D216"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: PostgreSQL      tcp port 5432  n =     4 src = "000000  000300007573657200"
# dpi-train: source=trained:ndpi precision=1 tp=3 fp=0
Service: QUIC            udp port 443   n =     3 src = "  0000000109"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: RDP             tcp port 3389  n =     4 dst = "030000130ED00000123400  000800"
# dpi-train: source=trained:ndpi precision=1 tp=3 fp=0
Service: RDP             udp port 3389  n =     3 src = "FFFFFFFF00401801"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: RDP             udp port 3389  n =     4 src = "FFFFFFFF0040"
# dpi-train: source=trained:ndpi precision=1 tp=6 fp=0
Service: RX              udp port 7000  n =     6 src = "                0000    000000010000"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: RX              udp port 7002  n =     4 src = "                                                      49000001"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: RX              udp port 7002  n =     4 dst = "                000000  000000  00000001"
# dpi-train: source=trained:ndpi precision=1 tp=5 fp=0
Service: Radius          udp port 1812  n =     5 src = "                                            626F62"
# dpi-train: source=trained:ndpi precision=1 tp=11 fp=0
Service: Radius          udp port 1812  n =    11 dst = "    00                                    06          060000"
# dpi-train: source=trained:ndpi precision=1 tp=7 fp=0
Service: SIP             udp port 5060  n =     7 src = "5349502F322E3020"
# dpi-train: source=trained:ndpi precision=1 tp=7 fp=0
Service: SOCKS           tcp port 1080  n =     7 src = "05020001050100"
# dpi-train: source=trained:ndpi precision=1 tp=8 fp=0
Service: SOCKS           tcp port 1080  n =     8 dst = "050005000001"
# dpi-train: source=trained:ndpi precision=1 tp=5 fp=0
Service: SOMEIP          udp port 30490 n =     5 src = "        0000    0000    0101"
# dpi-train: source=trained:ndpi precision=1 tp=69 fp=0
Service: SSH             tcp port 22    n =    69 src = "5353482D"
# dpi-train: source=trained:ndpi precision=1 tp=29 fp=0
Service: SSH             tcp port 22    n =    29 dst = "5353482D312E39392D4F70656E5353485F"
# dpi-train: source=trained:ndpi precision=1 tp=17 fp=0
Service: SSH             tcp port 22    n =    17 dst = "5353482D322E302D4F70656E5353485F          00"
# dpi-train: source=trained:ndpi precision=1 tp=6 fp=0
Service: STUN            udp port 3478  n =     6 src = "00010018"
# dpi-train: source=trained:ndpi precision=1 tp=10 fp=0
Service: STUN            udp port 3478  n =    10 src = "0003006A2112A442                        400000660503"
# dpi-train: source=trained:ndpi precision=1 tp=603 fp=0
Service: Service_Location_Protocol udp port 427   n =   603 src = "02  0000    00000000"
# dpi-train: source=trained:ndpi precision=1 tp=21 fp=0
Service: Service_Location_Protocol udp port 427   n =    21 src = "        0000656E0003"
# dpi-train: source=trained:ndpi precision=1 tp=12 fp=0
Service: Spotify         udp port 57621 n =    12 src = "53706F7455647030"
# dpi-train: source=trained:ndpi precision=1 tp=43 fp=0
Service: TLS             tcp port 443   n =    43 src = "170303"
# dpi-train: source=trained:ndpi precision=1 tp=9 fp=0
Service: TLS             tcp port 443   n =     9 dst = "15030300"
# dpi-train: source=trained:ndpi precision=1 tp=33 fp=0
Service: TLS             tcp port 443   n =    33 dst = "170303"
# dpi-train: source=trained:ndpi precision=1 tp=18 fp=0
Service: VNC             tcp port 5900  n =    18 src = "524642203030"
# dpi-train: source=trained:ndpi precision=1 tp=7 fp=0
Service: WSD             udp port 3702  n =     7 src = "3C3F786D6C2076657273696F6E3D22312E302220656E636F64696E673D227574"
# dpi-train: source=trained:ndpi precision=1 tp=6 fp=0
Service: Zoom            udp port 8801  n =     6 src = "0100                                  000000000000000200"
